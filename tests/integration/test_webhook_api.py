"""The webhook API of docs/webhook-api.md through real HTTP to the local stack (ingest runs in-process behind it)."""

from __future__ import annotations

import base64
import json

import pytest

from callhook.aws import WEBHOOK_ANSWER_LIMITS
from callhook.models.dialog import make_dialog_id
from callhook.repositories.config import ConfigTable
from callhook.repositories.events import EventRepository
from callhook_local.faults import start_execution_fails
from tests.support.stack import StackClient, unique

MAPPING = {"call_id": "CallSid", "caller": "From", "callee": "To", "direction": "Direction",
           "duration": "CallDuration", "started_at": "to_iso(StartTime, 'Europe/Berlin')", "status": "CallStatus",
           "operator_email": "agent.email"}
CALL = {"CallSid": "CA-1", "From": "+12349013030", "To": "+18005551212", "Direction": "outbound-api",
        "CallDuration": "42", "StartTime": "2026-11-25 10:00:00", "CallStatus": "completed"}
EXPECTED = {"caller": "+12349013030", "callee": "+18005551212", "direction": "outbound", "duration": 42,
            "started_at": "2026-11-25T09:00:00Z", "status": "completed"}


@pytest.fixture
def channel(stack: StackClient) -> dict:
    return stack.channel(advanced_config={"field_mapping": MAPPING})


def _telephony(stack: StackClient, channel: dict, call_id: str) -> dict:
    dialog = stack.dialog_for(channel, call_id)
    assert dialog is not None
    return dialog.telephony.model_dump(mode="json")


def test_json_form_and_get_map_to_the_same_telephony(stack: StackClient, channel: dict) -> None:
    # Given the same call sent as JSON, as a form and as a GET query
    answers = [
        stack.post(channel, json_body={**CALL, "CallSid": "json-1"}),
        stack.post(channel, form={**CALL, "CallSid": "form-1"}),
        stack.get(channel, {**CALL, "CallSid": "get-1"}),
    ]
    # Then each is accepted and the canonical fields are identical
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert all(a.json()["status"] == "accepted" for a in answers)
    for call_id in ("json-1", "form-1", "get-1"):
        tel = _telephony(stack, channel, call_id)
        assert {k: tel[k] for k in EXPECTED} == EXPECTED
        assert tel["call_id"] == call_id


def test_form_body_in_windows_1251_is_decoded(stack: StackClient, channel: dict) -> None:
    # Given a form body percent-encoded in windows-1251 (a Cyrillic status)
    body = "CallSid=cp1251-1&CallStatus=" + "".join(f"%{b:02X}" for b in "завершён".encode("cp1251"))
    # When
    form_1251 = "application/x-www-form-urlencoded; charset=windows-1251"
    resp = stack.post(channel, data=body, headers={"Content-Type": form_1251})
    # Then
    assert resp.status_code == 200, resp.text
    assert _telephony(stack, channel, "cp1251-1")["status"] == "завершён"


def test_bracket_keys_nest_in_form_bodies(stack: StackClient) -> None:
    # Given a Binotel-like channel whose mapping reads nested bracket keys
    ch = stack.channel(advanced_config={"field_mapping": {
        "call_id": "callDetails.generalCallID", "operator_email": "callDetails.employeeData.email",
        "caller": "callDetails.externalNumber"}})
    form = {"callDetails[generalCallID]": "bx-1", "callDetails[employeeData][email]": "ann@example.com",
            "callDetails[externalNumber]": "+380441234567", "callDetails[historyData][0][waitsec]": "3"}
    # When
    resp = stack.post(ch, form=form)
    # Then
    assert resp.status_code == 200, resp.text
    tel = _telephony(stack, ch, "bx-1")
    assert tel["operator_email"] == "ann@example.com"
    assert tel["raw"]["callDetails"]["historyData"] == [{"waitsec": "3"}]


def test_accepted_call_runs_its_execution_to_success_with_a_lambda_task(stack: StackClient, channel: dict) -> None:
    # When
    resp = stack.post(channel, json_body={**CALL, "CallSid": "exec-1"})
    dialog_id = resp.json()["dialog_id"]
    desc = stack.wait_execution(dialog_id)
    # Then the execution, named after the dialog, succeeded and ran our Lambda tasks
    assert desc["status"] == "SUCCEEDED"
    assert desc["name"] == dialog_id
    history = stack.history(desc["executionArn"])
    assert any(e["type"] == "TaskSucceeded" and e["taskSucceededEventDetails"]["resourceType"] == "lambda"
               for e in history)
    dialog = stack.dialog(dialog_id)
    assert dialog is not None and dialog.workflow.status == "completed"
    assert dialog.execution_arn == desc["executionArn"]


def test_redelivery_is_duplicate_with_one_dialog_and_one_execution(stack: StackClient, channel: dict) -> None:
    # Given a delivered call
    first = stack.post(channel, form={**CALL, "CallSid": "dup-1"})
    # When the provider retries it twice
    again = [stack.post(channel, form={**CALL, "CallSid": "dup-1"}) for _ in range(2)]
    # Then
    assert first.json()["status"] == "accepted"
    assert [a.json()["status"] for a in again] == ["duplicate", "duplicate"]
    assert {a.json()["dialog_id"] for a in [first, *again]} == {first.json()["dialog_id"]}
    stack.wait_execution(first.json()["dialog_id"])
    assert len(stack.executions_of(first.json()["dialog_id"])) == 1


def test_start_execution_failure_is_accepted_the_call_is_stored_and_a_retry_recovers(stack: StackClient,
                                                                                     channel: dict) -> None:
    # Given Step Functions throttles StartExecution for longer than the SDK's own retries last
    with start_execution_fails(times=100) as fault:
        failed = stack.post(channel, json_body={**CALL, "CallSid": "sfn-down-1"})
    # Then the call is stored, so it is accepted (most providers never resend a 5xx); the answer says the workflow
    # waits for the reconciler (after Ingest's attempts: callhook/aws.py WEBHOOK_ANSWER_LIMITS)
    assert fault.hits == WEBHOOK_ANSWER_LIMITS.total_attempts
    dialog_id = make_dialog_id(channel["channel_id"], "sfn-down-1")
    assert failed.status_code == 200, failed.text
    assert failed.json() == {"status": "accepted", "dialog_id": dialog_id, "reason": "workflow_start_deferred"}
    assert stack.dialog(dialog_id) is not None
    assert stack.executions_of(dialog_id) == []
    # When the provider retries anyway
    retry = stack.post(channel, json_body={**CALL, "CallSid": "sfn-down-1"})
    # Then the job completes, nothing duplicated
    assert retry.status_code == 200
    assert retry.json() == {"status": "duplicate", "dialog_id": dialog_id}
    assert stack.wait_execution(dialog_id)["status"] == "SUCCEEDED"
    assert len(stack.executions_of(dialog_id)) == 1


@pytest.mark.parametrize(("case", "status", "reason"), [
    ("no token", 401, "unauthorized"),
    ("wrong token", 401, "unauthorized"),
    ("unknown channel", 404, "unknown_channel"),
    ("invalid json", 400, "unreadable_body"),
    ("json array", 400, "unreadable_body"),
    ("xml", 415, "unsupported_content_type"),
    ("too large", 413, "payload_too_large"),
    ("no call id", 422, "missing_call_id"),
])
def test_bad_requests_get_a_clear_error(stack: StackClient, channel: dict, case: str, status: int,
                                        reason: str) -> None:
    # Given / When
    if case == "no token":
        resp = stack.post(channel, json_body=CALL, token=None)
    elif case == "wrong token":
        resp = stack.post(channel, json_body=CALL, token="not-the-token")
    elif case == "unknown channel":
        resp = stack.post("no-such-channel", json_body=CALL, token="x")
    elif case == "invalid json":
        resp = stack.post(channel, data='{"CallSid": ', headers={"Content-Type": "application/json"})
    elif case == "json array":
        resp = stack.post(channel, data="[1, 2]", headers={"Content-Type": "application/json"})
    elif case == "xml":
        resp = stack.post(channel, data="<call/>", headers={"Content-Type": "application/xml"})
    elif case == "too large":
        resp = stack.post(channel, json_body={**CALL, "pad": "x" * 300_000})
    else:
        resp = stack.post(channel, json_body={"From": "+12349013030"})
    # Then: JSON naming what is wrong, never a 500
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["reason"] == reason
    assert body["message"]
    assert "Traceback" not in resp.text


def test_inactive_channel_answers_403_and_keeps_the_payload(stack: StackClient) -> None:
    # Given
    ch = stack.channel(active=False, advanced_config={"field_mapping": MAPPING})
    # When
    resp = stack.post(ch, json_body={**CALL, "CallSid": "inactive-1"})
    # Then
    assert resp.status_code == 403
    events, _ = EventRepository(stack.env["EVENTS_TABLE"]).list_by_channel(ch["channel_id"])
    assert [(e.kind, e.reason, e.status_code) for e in events] == [("rejected", "channel_inactive", 403)]
    assert json.loads(events[0].request.body)["CallSid"] == "inactive-1"
    assert "x-webhook-token" not in events[0].request.headers  # credentials are never stored


def test_missing_call_id_keeps_the_payload_with_its_reason(stack: StackClient, channel: dict) -> None:
    # When
    resp = stack.post(channel, form={"From": "+12349013030"}, params={"token": channel["webhook_token"]},
                      token=None)
    # Then
    assert resp.status_code == 422
    assert "CallSid" in resp.json()["message"]
    events, _ = EventRepository(stack.env["EVENTS_TABLE"]).list_by_channel(channel["channel_id"])
    rejected = [e for e in events if e.reason == "missing_call_id"]
    assert len(rejected) == 1
    assert rejected[0].request.body == b"From=%2B12349013030"
    assert "token" not in rejected[0].request.raw_query


def test_unauthenticated_requests_store_nothing(stack: StackClient, channel: dict) -> None:
    # When
    stack.post(channel, json_body={"no": "call id"}, token="wrong")
    # Then
    events, _ = EventRepository(stack.env["EVENTS_TABLE"]).list_by_channel(channel["channel_id"])
    assert events == []


def test_accept_when_false_is_ignored(stack: StackClient) -> None:
    # Given a channel that accepts completed calls only
    ch = stack.channel(advanced_config={"field_mapping": MAPPING, "accept_when": "CallStatus == 'completed'"})
    # When
    resp = stack.post(ch, form={**CALL, "CallSid": "ringing-1", "CallStatus": "ringing"})
    # Then
    assert resp.status_code == 200
    assert resp.json()["status"] == "ignored"
    assert stack.dialog_for(ch, "ringing-1") is None


def test_broken_channel_fails_only_its_own_webhooks(stack: StackClient, channel: dict) -> None:
    # Given a channel item edited by hand into an invalid state (unknown field, bad enum)
    broken_id = unique("broken")
    ConfigTable(stack.env["CHANNELS_TABLE"], "channel_id").put({
        "channel_id": broken_id, "webhook_token": "t" * 20, "enrich_error_action": "assign_somebody"})
    # When
    broken = stack.post(broken_id, json_body=CALL, token="t" * 20)
    healthy = stack.post(channel, json_body={**CALL, "CallSid": "healthy-1"})
    # Then the broken one's call is held until the fix (202: kept, no resend needed), the other works
    assert broken.status_code == 202
    assert broken.json()["status"] == "held"
    assert broken.json()["reason"] == "channel_misconfigured"
    assert healthy.json()["status"] == "accepted"
    # and what is wrong is told to the admin (the held event), not to whoever called the URL
    assert "enrich_error_action" not in broken.text
    events, _ = EventRepository(stack.env["EVENTS_TABLE"]).list_by_channel(broken_id)
    assert [e.kind for e in events] == ["held"]
    assert "enrich_error_action" in (events[0].message or "")


def test_update_after_the_call_fills_empty_fields_only(stack: StackClient) -> None:
    # Given a channel where recording events update the call, and a stored call
    ch = stack.channel(advanced_config={"field_mapping": {**MAPPING, "recording_url": "RecordingUrl"},
                                        "update_when": "RecordingStatus == 'completed'"})
    stack.post(ch, form={**CALL, "CallSid": "upd-1"})
    # When the recording event arrives (with a different, later status)
    resp = stack.post(ch, form={"CallSid": "upd-1", "RecordingStatus": "completed", "CallStatus": "other",
                                "RecordingUrl": "https://api.example.com/rec/RE1"})
    # Then the empty field is filled, the existing one is kept
    assert resp.json()["status"] == "accepted"
    tel = _telephony(stack, ch, "upd-1")
    assert tel["recording_url"] == "https://api.example.com/rec/RE1"
    assert tel["status"] == "completed"
    assert len(stack.executions_of(resp.json()["dialog_id"])) == 1


def test_update_before_the_call_is_kept_and_applied_when_the_call_arrives(stack: StackClient) -> None:
    # Given a recording event that arrives before its call
    ch = stack.channel(advanced_config={"field_mapping": {**MAPPING, "recording_url": "RecordingUrl"},
                                        "update_when": "RecordingStatus == 'completed'"})
    early = stack.post(ch, form={"CallSid": "early-1", "RecordingStatus": "completed",
                                 "RecordingUrl": "https://api.example.com/rec/RE2", "CallStatus": "early"})
    assert early.json()["status"] == "accepted"
    assert stack.dialog_for(ch, "early-1") is None
    # When the call arrives
    call = stack.post(ch, form={**CALL, "CallSid": "early-1"})
    stack.wait_execution(call.json()["dialog_id"])
    # Then the update was applied, without blanking or overriding the call's own fields
    tel = _telephony(stack, ch, "early-1")
    assert tel["recording_url"] == "https://api.example.com/rec/RE2"
    assert tel["status"] == "completed"
    assert early.json()["dialog_id"] == call.json()["dialog_id"]


def test_mapping_warnings_name_values_that_could_not_be_coerced(stack: StackClient, channel: dict) -> None:
    # When
    resp = stack.post(channel, json_body={**CALL, "CallSid": "warn-1", "Direction": "sideways",
                                          "CallDuration": "forever"})
    # Then the call is accepted; the bad fields are null and named
    assert resp.json()["status"] == "accepted"
    dialog = stack.dialog_for(channel, "warn-1")
    assert dialog is not None
    assert dialog.telephony.direction is None and dialog.telephony.duration is None
    assert {w.field for w in dialog.mapping_warnings} == {"direction", "duration"}


def test_binary_body_reaches_the_function_base64_encoded(stack: StackClient, channel: dict) -> None:
    # Given an octet-stream body: the API front encodes it as API Gateway does; ingest answers 415, not 500
    resp = stack.post(channel, data=base64.b64decode("AAECAw=="), headers={"Content-Type": "application/octet-stream"})
    assert resp.status_code == 415
