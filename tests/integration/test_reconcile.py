"""Reconciliation: a stored dialog whose execution never started is found and started, exactly once."""

from __future__ import annotations

from pathlib import Path

from callhook.models.dialog import make_dialog_id
from callhook_local.faults import start_execution_fails
from tests.support.stack import StackClient, reconcile, unique

_reconcile = reconcile


def test_a_dialog_whose_execution_never_started_is_started_once(stack: StackClient) -> None:
    # Given a call stored while Step Functions was down, and a provider that never retries
    channel = stack.channel(advanced_config={"field_mapping": {"call_id": "id"}})
    call_id = unique("orphan")
    with start_execution_fails(times=100):
        answer = stack.post(channel, json_body={"id": call_id})
    # (the call is stored: it is accepted, and the answer says its workflow waits for the reconciler)
    dialog_id = make_dialog_id(channel["channel_id"], call_id)
    assert answer.status_code == 200
    assert answer.json() == {"status": "accepted", "dialog_id": dialog_id, "reason": "workflow_start_deferred"}
    assert stack.executions_of(dialog_id) == []
    # When the scheduled reconciler runs
    report = _reconcile(stack)
    # Then it started the workflow, which completes the dialog
    assert dialog_id in report["started"]
    assert stack.wait_execution(dialog_id)["status"] == "SUCCEEDED"
    dialog = stack.dialog(dialog_id)
    assert dialog is not None and dialog.workflow.status == "completed"
    # and a late provider retry, or another reconciler run, starts nothing new
    assert stack.post(channel, json_body={"id": call_id}).json()["status"] == "duplicate"
    assert dialog_id not in _reconcile(stack)["started"]
    assert len(stack.executions_of(dialog_id)) == 1


def test_reconciler_leaves_recent_dialogs_to_ingest(stack: StackClient) -> None:
    # Given a dialog stored a moment ago without an execution
    channel = stack.channel(advanced_config={"field_mapping": {"call_id": "id"}})
    call_id = unique("fresh")
    with start_execution_fails(times=100):
        stack.post(channel, json_body={"id": call_id})
    # When the reconciler runs with its grace period
    report = _reconcile(stack, older_than_s=600)
    # Then it does not race the provider's retry
    assert make_dialog_id(channel["channel_id"], call_id) not in report["started"]


def test_a_lost_recording_request_is_asked_again(stack: StackClient, pbx) -> None:
    # Given a call whose request to copy its recording is lost (the asynchronous invoke fails)
    name = unique("rec") + ".wav"
    pbx.add_recording(name, (Path(__file__).resolve().parents[1] / "fixtures" / "audio" / "call-16k.wav").read_bytes())
    channel = stack.channel(allow_private_network=True,
                            advanced_config={"field_mapping": {"call_id": "id", "recording_url": "recording"}})
    call_id = unique("call")
    with stack.recording_copy_fails(make_dialog_id(channel["channel_id"], call_id)):
        dialog = stack.process(channel, {"id": call_id, "recording": f"{pbx.url}/recordings/{name}"})
    assert dialog.recording is not None
    assert dialog.recording.status == "pending"
    # When the reconciler runs
    report = _reconcile(stack, recordings_older_than_s=0)
    # Then it asked again: the recording is kept, and it is not asked for a third time
    assert dialog.dialog_id in report["recordings_requested"]
    again = stack.wait_recording(dialog.dialog_id)  # the reconciler's request is an asynchronous invoke too
    assert again is not None and again.recording is not None
    assert again.recording.status == "kept"
    assert dialog.dialog_id not in _reconcile(stack, recordings_older_than_s=0)["recordings_requested"]
