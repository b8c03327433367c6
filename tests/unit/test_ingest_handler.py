"""The ingest handler on the API Gateway events in events/ingest (the same files `sam local invoke` uses)."""

from __future__ import annotations

import json

import boto3

from callhook.repositories.events import EventRepository
from callhook_admin.services.config import put_channel
from functions.ingest import app
from tests.unit.conftest import FakeContext, load_event

CHANNEL = {"channel_id": "main", "webhook_token": "main-channel-token-0001", "advanced_config": {"field_mapping": {
    "call_id": "CallSid", "caller": "From", "callee": "To", "direction": "Direction", "duration": "CallDuration",
    "status": "CallStatus"}}}


def _invoke(name: str, context: FakeContext) -> tuple[int, dict]:
    resp = app.handler(load_event(f"ingest/{name}"), context)
    return resp["statusCode"], json.loads(resp["body"])


def test_ingest_handler_accepts_json_form_and_get_events(aws: dict, lambda_context: FakeContext) -> None:
    # Given
    put_channel(aws["CHANNELS_TABLE"], CHANNEL)
    # When
    answers = [_invoke(name, lambda_context) for name in ("json_call", "form_call", "get_call")]
    # Then each is stored and its execution started, named after the dialog
    assert [(status, body["status"]) for status, body in answers] == [(200, "accepted")] * 3
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    names = {e["name"] for e in sfn.list_executions(stateMachineArn=aws["STATE_MACHINE_ARN"])["executions"]}
    assert names == {body["dialog_id"] for _, body in answers}


def test_ingest_handler_answers_duplicate_for_a_redelivery(aws: dict, lambda_context: FakeContext) -> None:
    put_channel(aws["CHANNELS_TABLE"], CHANNEL)
    first = _invoke("json_call", lambda_context)
    second = _invoke("json_call", lambda_context)
    assert first[1]["status"] == "accepted"
    assert second == (200, {"status": "duplicate", "dialog_id": first[1]["dialog_id"]})


def test_ingest_handler_rejects_a_missing_token_and_stores_nothing(aws: dict, lambda_context: FakeContext) -> None:
    put_channel(aws["CHANNELS_TABLE"], CHANNEL)
    status, body = _invoke("missing_token", lambda_context)
    assert (status, body["reason"]) == (401, "unauthorized")
    assert EventRepository(aws["EVENTS_TABLE"]).list_by_channel("main")[0] == []


def test_ingest_handler_keeps_a_payload_without_call_id(aws: dict, lambda_context: FakeContext) -> None:
    put_channel(aws["CHANNELS_TABLE"], CHANNEL)
    status, body = _invoke("no_call_id", lambda_context)
    assert (status, body["reason"]) == (422, "missing_call_id")
    events, _ = EventRepository(aws["EVENTS_TABLE"]).list_by_channel("main")
    assert [e.reason for e in events] == ["missing_call_id"]


def test_ingest_handler_answers_404_json_for_other_paths(aws: dict, lambda_context: FakeContext) -> None:
    event = load_event("ingest/json_call")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/elsewhere"
    resp = app.handler(event, lambda_context)
    assert resp["statusCode"] == 404
    assert json.loads(resp["body"])["reason"] == "not_found"
