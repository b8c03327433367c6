"""The replay decisions of callhook_admin.services.replay: what may be replayed, and what it is marked with."""

from __future__ import annotations

from typing import Any

import pytest

from callhook.errors import ChannelInactiveError
from callhook.models.api import WebhookAnswer
from callhook.models.call import Telephony
from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus, Policy, WorkflowStatus
from callhook.models.event import RawEvent, RawEventKind
from callhook_admin.errors import NotReplayableError
from callhook_admin.services.replay import accepted_marks, event_refusal, plan_dialog_replay, rejected_marks

NOW = "2026-12-01T10:00:00.000000Z"


def _event(kind: RawEventKind) -> RawEvent:
    return RawEvent(event_id="e-1", channel_id="main", received_at=NOW, kind=kind,
                    request={"method": "POST", "url": "/webhooks/main", "headers": {}})


def _dialog(enrich_action: str | None = "crm") -> Dialog:
    return Dialog(dialog_id="d-1", channel_id="main", call_id="c-1", created_at=NOW,
                  telephony=Telephony(call_id="c-1"), policy=Policy(enrich_action=enrich_action),
                  enrichment=Enrichment(status=EnrichmentStatus.FAILED, action_id=enrich_action))


@pytest.mark.parametrize("kind", [RawEventKind.REJECTED, RawEventKind.REPLAYED])
def test_rejected_and_replayed_events_are_replayed(kind: RawEventKind) -> None:
    assert event_refusal(_event(kind)) is None


@pytest.mark.parametrize(("kind", "says"), [
    (RawEventKind.HELD, "becomes a dialog by itself"),
    (RawEventKind.PENDING_UPDATE, "update events are applied when their call arrives"),
    (RawEventKind.APPLIED_UPDATE, "update events are applied when their call arrives"),
    (RawEventKind.RELEASED, "are not replayed"),
])
def test_held_and_update_events_are_not_replayed_and_say_why(kind: RawEventKind, says: str) -> None:
    refusal = event_refusal(_event(kind))
    assert refusal is not None and says in refusal


def test_an_accepted_replay_marks_the_dialog_only_when_there_is_one() -> None:
    # dialog_id keys a sparse index: an answer without a dialog must not write the attribute at all
    assert accepted_marks(WebhookAnswer(status="accepted", dialog_id="d-1"), NOW) == {
        "replayed_at": NOW, "replay_status": "accepted", "dialog_id": "d-1"}
    assert accepted_marks(WebhookAnswer(status="ignored", reason="not_selected"), NOW) == {
        "replayed_at": NOW, "replay_status": "ignored"}


def test_a_replay_rejected_again_records_the_new_reason() -> None:
    assert rejected_marks(ChannelInactiveError("channel main is inactive"), NOW) == {
        "last_replay_at": NOW, "last_replay_reason": "channel_inactive",
        "last_replay_message": "channel main is inactive"}


def test_a_dialog_replay_is_the_next_numbered_execution_with_its_sections_reset() -> None:
    # Given a dialog whose first run and one replay ended
    executions: list[dict[str, Any]] = [{"name": "d-1", "status": "FAILED"}, {"name": "d-1-r1", "status": "SUCCEEDED"}]
    # When
    plan = plan_dialog_replay(_dialog(), executions)
    # Then
    assert (plan.replay, plan.execution_name) == (2, "d-1-r2")
    assert plan.sections["workflow"]["status"] == WorkflowStatus.PENDING
    assert (plan.sections["enrichment"]["status"], plan.sections["enrichment"]["action_id"]) == ("pending", "crm")
    assert plan.sections["enrichment"].get("error") is None


def test_a_dialog_without_enrichment_keeps_its_enrichment_section() -> None:
    assert set(plan_dialog_replay(_dialog(enrich_action=None), []).sections) == {"workflow"}
    assert plan_dialog_replay(_dialog(), []).execution_name == "d-1"


def test_a_dialog_with_a_running_execution_is_not_replayed() -> None:
    with pytest.raises(NotReplayableError, match="execution d-1-r1 of dialog d-1 is still running"):
        plan_dialog_replay(_dialog(), [{"name": "d-1", "status": "SUCCEEDED"}, {"name": "d-1-r1", "status": "RUNNING"}])
