"""The replay decisions of callhook_admin.services.replay: what may be replayed, and what it is marked with; and
the replays themselves on fakes of their ports (the raw event through ingest's own path, a dialog's next run)."""

from __future__ import annotations

from typing import Any

import pytest

from callhook.errors import ChannelInactiveError, DialogNotFoundError, MissingCallIdError
from callhook.models.api import WebhookAnswer
from callhook.models.call import Telephony
from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus, Policy, WorkflowStatus, make_dialog_id
from callhook.models.event import RawEvent, RawEventKind
from callhook.services.retention import expires_at
from callhook_admin.errors import ExecutionStillRunningError, ItemNotFoundError, NotReplayableError
from callhook_admin.services.replay import (
    DialogReplayPorts,
    EventReplayPorts,
    accepted_marks,
    event_refusal,
    plan_dialog_replay,
    rejected_marks,
    replay_dialog,
    replay_event,
    replayable_events,
    wait_for_execution,
)
from tests.support.fakes import FakeDialogs, FakeExecutions
from tests.unit.test_ingest_decisions import MAIN, SETTINGS, World

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


# ------------------------------------------------------------------------------------------------ on fakes of the ports
def _rejected(world: World, body: dict[str, Any], error: type[Exception]) -> str:
    with pytest.raises(error):
        world.post(body)
    return str(max(world.events.items.values(), key=lambda i: str(i["received_at"]))["event_id"])


def test_a_rejected_event_replayed_after_the_fix_becomes_the_dialog_and_is_marked_with_it() -> None:
    # Given a call rejected while its channel was inactive, and the channel activated since
    world = World({**MAIN, "active": False})
    event_id = _rejected(world, {"call_id": "c1"}, ChannelInactiveError)
    world.channels.items["main"]["active"] = True
    # When
    result = replay_event(event_id, EventReplayPorts(events=world.events, ingest=world.io), SETTINGS)
    # Then ingest's own path stored the dialog and started its workflow
    dialog_id = make_dialog_id("main", "c1")
    assert (result.outcome, result.dialog_id) == ("accepted", dialog_id)
    assert world.dialogs.dialog(dialog_id).call_id == "c1" and [n for n, _ in world.executions.started] == [dialog_id]
    event = world.events.event(event_id)
    assert (event.kind, event.dialog_id) == (RawEventKind.REPLAYED, dialog_id)


def test_a_replay_rejected_again_keeps_the_event_rejected_with_the_new_reason() -> None:
    world = World()
    event_id = _rejected(world, {"other": 1}, MissingCallIdError)
    result = replay_event(event_id, EventReplayPorts(events=world.events, ingest=world.io), SETTINGS)
    assert (result.outcome, result.reason, result.status_code) == ("rejected", "missing_call_id", 422)
    stored = world.events.items[event_id]
    assert stored["kind"] == RawEventKind.REJECTED.value and stored["last_replay_reason"] == "missing_call_id"
    assert world.dialogs.items == {} and [e.event_id for e in replayable_events(world.events, "main")] == [event_id]


def test_an_unknown_or_held_event_is_not_replayed_and_nothing_is_written() -> None:
    world = World()
    with pytest.raises(ItemNotFoundError, match="no raw event 'e-9'"):
        replay_event("e-9", EventReplayPorts(events=world.events, ingest=world.io), SETTINGS)
    world.events.put(_event(RawEventKind.HELD))
    with pytest.raises(NotReplayableError, match="is held"):
        replay_event("e-1", EventReplayPorts(events=world.events, ingest=world.io), SETTINGS)
    assert world.events.event("e-1").kind == RawEventKind.HELD and world.dialogs.items == {}


def test_only_rejected_events_are_replayed_by_channel_oldest_first() -> None:
    world = World()
    for n, kind in enumerate([RawEventKind.REJECTED, RawEventKind.HELD, RawEventKind.REJECTED, RawEventKind.REPLAYED]):
        world.events.put(_event(kind).model_copy(update={"event_id": f"e-{n}", "received_at": f"2026-12-0{4 - n}"}))
    assert [e.event_id for e in replayable_events(world.events, "main")] == ["e-2", "e-0"]


def test_a_dialog_replay_is_the_next_named_run_over_reset_sections() -> None:
    # Given a dialog whose first run and first replay ended
    dialogs, executions = FakeDialogs(_dialog()), FakeExecutions(**{"d-1": "FAILED", "d-1-r1": "SUCCEEDED"})
    # When
    replay = replay_dialog("d-1", DialogReplayPorts(dialogs=dialogs, executions=executions))
    # Then replay 2 started under its own name, after the sections were reset, and the dialog names it
    assert (replay.replay, replay.execution_name) == (2, "d-1-r2")
    assert [name for name, _ in executions.started] == ["d-1-r2"]
    assert dialogs.writes[0]["enrichment"]["status"] == "pending" and dialogs.writes[0]["workflow"]["status"] == \
        "pending"
    assert dialogs.dialog("d-1").execution_arn == replay.execution_arn


def test_a_running_or_unknown_dialog_is_not_replayed() -> None:
    dialogs, executions = FakeDialogs(_dialog()), FakeExecutions(**{"d-1": "RUNNING"})
    with pytest.raises(NotReplayableError, match="still running"):
        replay_dialog("d-1", DialogReplayPorts(dialogs=dialogs, executions=executions))
    with pytest.raises(DialogNotFoundError):
        replay_dialog("d-9", DialogReplayPorts(dialogs=dialogs, executions=executions))
    assert executions.started == [] and dialogs.writes == []


def test_waiting_for_an_execution_ends_with_its_status_or_says_it_still_runs() -> None:
    executions = FakeExecutions(**{"d-1": "RUNNING"})
    arn = executions.of_dialog("d-1")[0]["executionArn"]
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds
        if now[0] >= 1:
            executions.statuses["d-1"] = "SUCCEEDED"

    assert wait_for_execution(executions, arn, 5, sleep=sleep, clock=lambda: now[0]) == "SUCCEEDED"
    executions.statuses["d-1"] = "RUNNING"
    with pytest.raises(ExecutionStillRunningError, match=r"execution d-1 still RUNNING after 0\.5s"):
        wait_for_execution(executions, arn, 0.5, sleep=lambda s: now.__setitem__(0, now[0] + s),
                           clock=lambda: now[0])


def test_a_replayed_event_becomes_the_dialog_of_when_it_arrived() -> None:
    # Given a call rejected on 2026-12-01 while its channel was inactive, replayed (now) after the fix
    world = World({**MAIN, "active": False})
    event_id = _rejected(world, {"call_id": "c1"}, ChannelInactiveError)
    arrived = world.events.event(event_id).received_at
    world.events.items[event_id]["received_at"] = NOW  # it arrived long before this test runs
    world.channels.items["main"]["active"] = True
    # When
    replay_event(event_id, EventReplayPorts(events=world.events, ingest=world.io), SETTINGS)
    # Then the dialog is the one it would have been: created then, expiring 30 days after then
    dialog = world.dialogs.dialog(make_dialog_id("main", "c1"))
    assert arrived != NOW
    assert dialog.created_at == NOW
    assert dialog.expires_at == expires_at(NOW, 30)
