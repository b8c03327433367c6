"""BeginWorkflow and RecordWorkflowFailure (services/workflow_steps.py) on in-memory fakes."""

from __future__ import annotations

import base64

import pytest
from botocore.exceptions import ClientError

from callhook.errors import DependencyUnavailableError
from callhook.models.call import Telephony
from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus, WorkflowStatus
from callhook.models.event import RawEvent, RawEventKind, StoredRequest
from callhook.models.workflow import StepError, WorkflowState
from callhook.services.workflow_steps import begin_workflow, record_workflow_failure
from tests.support.fakes import FakeDialogs, FakeRawEvents, FakeRecordingRequests

STATE = WorkflowState(dialog_id="d-1", channel_id="main", call_id="c-1")


def stored(caller: str | None = None) -> FakeDialogs:
    dialogs = FakeDialogs(Dialog(dialog_id="d-1", channel_id="main", call_id="c-1", created_at="2026-12-01T10:00:00Z",
                                 telephony=Telephony(call_id="c-1", caller=caller),
                                 enrichment=Enrichment(status=EnrichmentStatus.DISABLED)))
    dialogs.items["d-1"]["workflow_pending"] = "pending-1"
    return dialogs


def update(n: int, **fields: object) -> RawEvent:
    return RawEvent(event_id=f"e-{n}", channel_id="main", received_at=f"2026-12-01T09:59:5{n}Z",
                    kind=RawEventKind.PENDING_UPDATE, dialog_id="d-1", update_fields=fields,
                    request=StoredRequest(method="POST", url="https://hooks.example/webhooks/main", headers={},
                                          body_b64=base64.b64encode(b"{}").decode()))


def test_begin_marks_the_workflow_running_and_out_of_the_reconcilers_index() -> None:
    dialogs = stored()
    # When
    begin_workflow(STATE, dialogs, FakeRawEvents(), FakeRecordingRequests())
    # Then
    assert dialogs.dialog("d-1").workflow.status == WorkflowStatus.RUNNING
    assert "workflow_pending" not in dialogs.items["d-1"]


def test_early_updates_fill_empty_fields_oldest_first_and_ask_for_the_recording_once() -> None:
    dialogs = stored(caller="+15550001")
    events = FakeRawEvents(update(2, recording_url="https://pbx.example/late.wav", duration=99),
                           update(1, recording_url="https://pbx.example/r.wav", caller="+15559999", duration=42))
    requests = FakeRecordingRequests()
    # When
    begin_workflow(STATE, dialogs, events, requests)
    # Then the oldest update fills first, no field is overwritten, and each update is marked applied
    telephony = dialogs.dialog("d-1").telephony
    assert telephony.recording_url == "https://pbx.example/r.wav" and telephony.duration == 42
    assert telephony.caller == "+15550001"
    assert {events.event(e).kind for e in ("e-1", "e-2")} == {RawEventKind.APPLIED_UPDATE}
    assert requests.requested == ["d-1"]


def test_no_recording_in_the_updates_asks_for_none() -> None:
    requests = FakeRecordingRequests()
    begin_workflow(STATE, stored(), FakeRawEvents(update(1, duration=5)), requests)
    assert requests.requested == []


def test_a_failed_step_is_recorded_with_its_error_and_the_start_it_kept() -> None:
    dialogs = stored()
    begin_workflow(STATE, dialogs, FakeRawEvents(), FakeRecordingRequests())
    started = dialogs.dialog("d-1").workflow.started_at
    # When a later step fails and its Catch hands over Step Functions' error
    failed = STATE.model_copy(update={"error": StepError(Error="DialogNotFoundError", Cause="no dialog d-1")})
    record_workflow_failure(failed, dialogs)
    # Then the dialog says which error, keeps when it started, and when it ended
    workflow = dialogs.dialog("d-1").workflow
    assert workflow.status == WorkflowStatus.FAILED and workflow.started_at == started
    assert workflow.error == {"Error": "DialogNotFoundError", "Cause": "no dialog d-1"}
    assert workflow.finished_at is not None


def test_a_failure_without_an_error_says_unknown() -> None:
    dialogs = stored()
    record_workflow_failure(STATE, dialogs)
    assert dialogs.dialog("d-1").workflow.error == {"Error": "Unknown"}


class RefusingDialogs(FakeDialogs):
    """DialogRepository's answer when DynamoDB refuses the update itself (its ClientError passes through)."""

    def fill_telephony(self, dialog_id: str, fields: dict[str, object]) -> dict[str, object] | None:
        if fields.get("status") == "poison":
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "Item size has exceeded the "
                                         "maximum allowed size"}}, "UpdateItem")
        return super().fill_telephony(dialog_id, fields)


def test_an_early_update_the_table_refuses_is_set_aside_and_the_later_ones_still_apply() -> None:
    dialogs = RefusingDialogs(stored().dialog("d-1"))
    events = FakeRawEvents(update(1, status="poison"), update(2, duration=42))
    # When
    begin_workflow(STATE, dialogs, events, FakeRecordingRequests())
    # Then
    aside = events.event("e-1")
    assert (aside.kind, aside.reason, aside.set_aside_from) == (RawEventKind.SET_ASIDE, "processing_failed",
                                                                "pending_update")
    assert "ValidationException" in (aside.message or "")
    assert events.event("e-2").kind == RawEventKind.APPLIED_UPDATE and dialogs.dialog("d-1").telephony.duration == 42


def test_a_table_that_fails_itself_fails_the_step_with_every_update_still_pending() -> None:
    dialogs, events = stored(), FakeRawEvents(update(1, duration=42))
    dialogs.down = "ThrottlingException"
    with pytest.raises(DependencyUnavailableError):
        begin_workflow(STATE, dialogs, events, FakeRecordingRequests())
    assert events.event("e-1").kind == RawEventKind.PENDING_UPDATE
