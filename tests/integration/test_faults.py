"""Faults of ours: what the provider gets, and that retries lose and duplicate nothing."""

from __future__ import annotations

import pytest

from callhook.aws import WEBHOOK_ANSWER_LIMITS
from callhook.models.dialog import make_dialog_id
from callhook_local.faults import dynamodb_put_fails, lambda_fails, lambda_service_fails
from tests.support.stack import StackClient, reconcile

MAPPING = {"call_id": "id", "operator_email": "agent_email"}


@pytest.fixture
def channel(stack: StackClient) -> dict:
    return stack.channel(advanced_config={"field_mapping": MAPPING})


def _fn(stack: StackClient, logical_id: str) -> str:
    return f"{stack.stack.name}-{logical_id}"


def test_throttled_dialog_write_is_spooled_answered_202_and_becomes_its_dialog(stack: StackClient,
                                                                               channel: dict) -> None:
    # Given DynamoDB throttles the dialog write longer than the SDK's own retries
    with dynamodb_put_fails(stack.env["DIALOGS_TABLE"], times=100) as fault:
        first = stack.post(channel, json_body={"id": "throttled-1"})
    # Then the call is kept in the spool and the provider is told so (most providers never resend a 5xx)
    assert fault.hits == WEBHOOK_ANSWER_LIMITS.total_attempts  # Ingest's attempts (callhook/aws.py), then the spool
    dialog_id = make_dialog_id(channel["channel_id"], "throttled-1")
    assert first.status_code == 202
    assert first.json() == {"status": "accepted", "dialog_id": dialog_id, "reason": "spooled",
                            "event_id": first.json()["event_id"]}
    assert stack.dialog(dialog_id) is None
    # When the reconciler runs
    report = reconcile(stack)
    # Then the spooled call became its dialog, and its workflow ran, once
    assert report["spool"]["spool_processed"] == [first.json()["event_id"]]
    assert stack.wait_execution(dialog_id)["status"] == "SUCCEEDED"
    # and a provider's retry finds it
    retry = stack.post(channel, json_body={"id": "throttled-1"})
    assert retry.json() == {"status": "duplicate", "dialog_id": dialog_id}
    assert len(stack.executions_of(dialog_id)) == 1


def test_lambda_service_exception_in_a_step_is_retried(stack: StackClient, channel: dict) -> None:
    # Given the Lambda service fails the next two invocations of the assign step
    with lambda_service_fails(_fn(stack, "AssignFunction"), times=2) as fault:
        resp = stack.post(channel, json_body={"id": "svc-1", "agent_email": "nobody@example.com"})
        desc = stack.wait_execution(resp.json()["dialog_id"])
    # Then the state machine's Retry absorbed them
    assert fault.hits == 2
    assert desc["status"] == "SUCCEEDED"
    history = stack.history(desc["executionArn"])
    assert [e["taskFailedEventDetails"]["error"] for e in history if e["type"] == "TaskFailed"] == \
        ["Lambda.ServiceException"] * 2
    dialog = stack.dialog(resp.json()["dialog_id"])
    assert dialog is not None and dialog.assignment.status == "not_assigned"


def test_a_step_failing_for_good_leaves_a_dialog_that_says_which_step_and_why(stack: StackClient,
                                                                              channel: dict) -> None:
    # Given the topic step raises an unexpected error (a bug of ours), every time
    boom = type("TopicStoreCorrupted", (Exception,), {})
    with lambda_fails(_fn(stack, "TopicFunction"), times=10, error=boom, message="topic table unreadable"):
        resp = stack.post(channel, json_body={"id": "bug-1"})
        desc = stack.wait_execution(resp.json()["dialog_id"])
    # Then the execution fails visibly, and the dialog keeps its data and says why
    assert desc["status"] == "FAILED"
    dialog = stack.dialog(resp.json()["dialog_id"])
    assert dialog is not None
    assert dialog.workflow.status == "failed"
    assert dialog.workflow.error["Error"] == "TopicStoreCorrupted"
    assert "topic table unreadable" in dialog.workflow.error["Cause"]
    assert dialog.telephony.call_id == "bug-1"
    assert stack.states_entered(desc["executionArn"])[-2:] == ["RecordWorkflowFailure", "StepFailed"]
