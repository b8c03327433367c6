"""Secrets never appear in logs, dialog or raw-event items, or Step Functions execution history."""

from __future__ import annotations

import json
import uuid

import pytest

from callhook.aws import from_item
from callhook_admin.services.config import put_action
from callhook_local.fake_pbx import DEFAULT_API_KEY, FakePBX
from tests.support.stack import StackClient, function_output, unique


def _scan(stack: StackClient, table: str) -> str:
    ddb = stack.stack.client("dynamodb")
    items = []
    for page in ddb.get_paginator("scan").paginate(TableName=table):
        items += [from_item(i) for i in page["Items"]]
    return json.dumps(items, default=str)


def test_known_secrets_are_nowhere_after_a_full_run(stack: StackClient, demo: FakePBX,
                                                    capsys: pytest.CaptureFixture[str],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    # Given an action whose API key is a known secret in SSM, and the PBX expecting that key
    secret = f"S3CRET-{uuid.uuid4().hex}"
    name = f"/callhook/test/{unique('key')}"
    stack.stack.client("ssm").put_parameter(Name=name, Value=secret, Type="SecureString")
    action_id = unique("secret-action")
    put_action(stack.env["ACTIONS_TABLE"], {
        "action_id": action_id, "type": "http", "params": {"base_url": demo.url}, "secrets": {"api_key": f"ssm:{name}"},
        "request": {"method": "GET", "url": "{params.base_url}/calls/{telephony.call_id}?k={secrets.api_key}",
                    "headers": {"Authorization": "Bearer {secrets.api_key}"}},
        "result": {"operator_email": "data.agent.email"}, "allow_private_network": True})
    token = f"TOKEN-{uuid.uuid4().hex}"
    channel = stack.channel(webhook_token=token, webhook_enrich_action=action_id,
                            advanced_config={"field_mapping": {"call_id": "id"}})
    call_id = unique("call")
    demo.set_call(call_id, email="ann@example.com")
    # When a call is processed (the PBX rejects the key: the failure path logs and stores the most), a rejected
    # payload is stored (422), and a call is sent with the token in the query string
    demo.set_api_key("another-key")
    try:
        failed = stack.process(channel, {"id": call_id})
    finally:
        demo.set_api_key(DEFAULT_API_KEY)
    stack.post(channel, json_body={"no": "id"}, params={"token": token}, token=None)
    ok = stack.post(channel, form={"id": unique("call")}, params={"token": token}, token=None)
    stack.wait_execution(ok.json()["dialog_id"])
    # Then the secret was really used (the PBX saw it), the call's enrichment failed with a readable reason...
    assert any(secret in (r.headers.get("Authorization") or "") for r in demo.requests)
    assert failed.enrichment.error["code"] == "http_status"
    # ...and neither the secret nor the token is in any dialog or raw event, history, or log line
    places = {
        "dialogs": _scan(stack, stack.env["DIALOGS_TABLE"]),
        "raw events": _scan(stack, stack.env["EVENTS_TABLE"]),
        "execution history": json.dumps(
            [stack.history(failed.execution_arn), stack.history(stack.dialog(ok.json()["dialog_id"]).execution_arn)],
            default=str),
        "logs": function_output(caplog) + capsys.readouterr().out,
    }
    assert places["logs"], "the functions' logs were captured"
    for where, text in places.items():
        assert secret not in text, where
        assert token not in text, where
