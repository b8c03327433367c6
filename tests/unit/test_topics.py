"""The SetTopic decision (docs/workflow.md: "topic set when the returned alias exists, compared exactly"), on fakes."""

from __future__ import annotations

import pytest

from callhook.models.call import Telephony
from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus, TopicStatus
from callhook.models.reasons import TopicReason
from callhook.models.workflow import WorkflowState
from callhook.services.topics import resolve_topic, set_topic
from tests.support.fakes import FakeDialogs, FakeTopics


def stored_dialog() -> Dialog:
    return Dialog(dialog_id="d-1", channel_id="ch", call_id="c-1", created_at="2026-12-01T00:00:00Z",
                  telephony=Telephony(call_id="c-1"), enrichment=Enrichment(status=EnrichmentStatus.PENDING))


def test_an_existing_alias_is_set_on_the_dialog() -> None:
    # Given
    dialogs, topics = FakeDialogs(stored_dialog()), FakeTopics("sales", "support")
    state = WorkflowState(dialog_id="d-1", channel_id="ch", call_id="c-1", enrich_action="crm",
                          enrichment={"status": "ok", "topic": "sales"})
    # When
    set_topic(state, dialogs, topics)
    # Then
    stored = dialogs.dialog("d-1")
    assert stored.topic == "sales" and stored.topic_resolution.status == TopicStatus.SET
    assert topics.listed == 0  # the happy path reads one key, never the whole table


def test_aliases_are_compared_exactly_and_the_nearest_are_suggested() -> None:
    # When
    resolution = resolve_topic("Sales ", "ok", FakeTopics("sales", "support", "billing"))
    # Then
    assert resolution.status == TopicStatus.NOT_SET and resolution.alias == "Sales "
    assert resolution.reason is not None and resolution.reason.code == TopicReason.NO_SUCH_TOPIC
    assert resolution.reason.model_extra["nearest"][0] == "sales"
    assert "did you mean" in resolution.reason.message


def test_an_alias_close_to_nothing_suggests_nothing() -> None:
    # When
    resolution = resolve_topic("zzzz", "ok", FakeTopics("sales"))
    # Then
    assert resolution.reason is not None and resolution.reason.model_extra["nearest"] == []
    assert "did you mean" not in resolution.reason.message


def test_no_alias_returned_is_no_topic_returned() -> None:
    for alias in (None, ""):
        resolution = resolve_topic(alias, "ok", FakeTopics("sales"))
        assert resolution.reason is not None and resolution.reason.code == TopicReason.NO_TOPIC_RETURNED


def test_without_an_enrich_action_the_topic_is_not_set_because_enrichment_is_disabled() -> None:
    # Given a channel without webhook_enrich_action: the state has no enrichment section
    dialogs = FakeDialogs(stored_dialog())
    state = WorkflowState(dialog_id="d-1", channel_id="ch", call_id="c-1")
    # When
    set_topic(state, dialogs, FakeTopics("sales"))
    # Then
    stored = dialogs.dialog("d-1")
    assert stored.topic is None
    assert stored.topic_resolution.reason is not None
    assert stored.topic_resolution.reason.code == TopicReason.ENRICHMENT_DISABLED


def test_a_topic_set_earlier_is_cleared_when_the_alias_no_longer_exists() -> None:
    # Given a replay after the admin deleted the topic
    dialogs = FakeDialogs(stored_dialog().model_copy(update={"topic": "sales"}))
    state = WorkflowState(dialog_id="d-1", channel_id="ch", call_id="c-1", enrich_action="crm",
                          enrichment={"status": "ok", "topic": "sales"})
    # When
    set_topic(state, dialogs, FakeTopics())
    # Then
    assert dialogs.dialog("d-1").topic is None


@pytest.mark.parametrize("returned", ["sales ", " sales", "Sales", "SALES", "sales\n", "sales\u00a0"])
def test_an_alias_that_differs_only_by_case_or_spaces_is_another_alias(returned: str) -> None:
    # Given only "sales" exists
    topics = FakeTopics("sales")
    # When the action returns a near miss
    resolution = resolve_topic(returned, "ok", topics)
    # Then it is not "sales": compared exactly, as returned
    assert resolution.status == TopicStatus.NOT_SET and resolution.alias == returned
    assert resolution.reason is not None and resolution.reason.code == TopicReason.NO_SUCH_TOPIC
    assert resolve_topic("sales", "ok", topics).status == TopicStatus.SET
