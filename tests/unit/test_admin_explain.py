"""`dialog explain`'s reads, on fakes of its ports: the dialog, and the configuration it used as it is now (the
operator's stored email, whether a topic exists, the channel and the action), each named when it is gone."""

from __future__ import annotations

import pytest

from callhook.errors import DialogNotFoundError
from callhook.models.dialog import Dialog
from callhook_admin.services.diagnosis import (
    OPERATOR_NOT_ASSIGNED,
    TOPIC_NOT_SET,
    Diagnosis,
    ExplainPorts,
    explain_dialog,
)
from tests.support.fakes import FakeActions, FakeChannels, FakeDialogs, FakeOperators, FakePayloads, FakeTopics
from tests.unit.test_diagnosis import ACTION, ANN, processed

CHANNEL = {"channel_id": "ch", "webhook_token": "ch-channel-token-000001", "active": True}


def explain(dialog: Dialog, *, channels: FakeChannels | None = None, actions: FakeActions | None = None,
            topics: tuple[str, ...] = ()) -> Diagnosis:
    return explain_dialog(dialog.dialog_id, ExplainPorts(
        dialogs=FakeDialogs(dialog), channels=channels or FakeChannels(CHANNEL),
        actions=actions or FakeActions(ACTION), operators=FakeOperators(ANN), topics=FakeTopics(*topics),
        payloads=FakePayloads()))


def finding(diagnosis: Diagnosis, symptom: str) -> tuple[str, list[dict[str, object]]]:
    found = next(f for f in diagnosis.findings if f.symptom == symptom)
    return found.summary, [c.evidence for c in found.causes]


def test_an_unknown_dialog_is_not_found() -> None:
    with pytest.raises(DialogNotFoundError, match="no dialog 'd-9'"):
        explain_dialog("d-9", ExplainPorts(dialogs=FakeDialogs(), channels=FakeChannels(), actions=FakeActions(),
                                           operators=FakeOperators(), topics=FakeTopics(),
                                           payloads=FakePayloads()))


def test_the_inactive_operator_is_shown_as_the_directory_stores_it_now() -> None:
    summary, evidence = finding(explain(processed({"operator_email": "ann@example.com", "topic": "sales"})),
                                OPERATOR_NOT_ASSIGNED)
    assert "17 <ann@example.com>" in summary
    assert evidence[0]["operators"] == [{"user_id": 17, "email": "ann@example.com", "active": False}]


def test_a_topic_added_since_is_read_from_the_topics_table() -> None:
    dialog = processed({"operator_email": None, "topic": "Sales"})
    assert "exists now" not in finding(explain(dialog), TOPIC_NOT_SET)[0]
    summary, evidence = finding(explain(dialog, topics=("Sales",)), TOPIC_NOT_SET)
    assert "`callhook dialog replay` sets it" in summary and evidence[0]["exists_now"] is True


def test_the_current_configuration_is_named_when_it_is_gone_or_invalid() -> None:
    dialog = processed({"operator_email": "ann@example.com", "topic": "sales"})
    assert explain(dialog).notes == []
    assert explain(dialog, channels=FakeChannels(), actions=FakeActions()).notes == [
        "channel 'ch' no longer exists: its mapping cannot be compared", "no action 'crm' in Action Jail (now)"]
    invalid = explain(dialog, channels=FakeChannels({**CHANNEL, "advanced_config": {"field_mapping": "x"}}))
    assert len(invalid.notes) == 1 and invalid.notes[0].startswith("the channel item is invalid now: channel 'ch'")
