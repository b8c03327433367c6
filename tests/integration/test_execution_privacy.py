"""Execution histories outlive an erasure (Step Functions keeps them 90 days, with no API to delete them): no
personal data may travel in a workflow's state or its errors. The detail stays on the dialog, which
erasure and retention reach."""

from __future__ import annotations

import json

import pytest

from callhook_admin.services.config import put_action
from callhook_local.demo import DEMO_SECRET_NAME
from callhook_local.fake_pbx import FakePBX
from tests.support.stack import StackClient, unique

CALLER = "+12025550143"
MAPPING = {"call_id": "id", "caller": "from"}


def history_text(stack: StackClient, execution_arn: str) -> str:
    return json.dumps(stack.history(execution_arn), default=str).lower()


@pytest.fixture
def caller_action(stack: StackClient, demo: FakePBX) -> str:
    """An action whose request URL is built from the caller's number (as a CRM lookup by phone would be)."""
    action_id = unique("by-caller")
    put_action(stack.env["ACTIONS_TABLE"], {
        "action_id": action_id, "type": "http", "params": {"base_url": demo.url},
        "secrets": {"api_key": f"ssm:{DEMO_SECRET_NAME}"},
        "request": {"method": "GET", "url": "{params.base_url}/calls/{telephony.call_id}?from={telephony.caller}",
                    "headers": {"Authorization": "Bearer {secrets.api_key}"}, "timeout_s": 5},
        "result": {"operator_email": "data.agent.email", "topic": "data.line"}, "allow_private_network": True})
    return action_id


def test_an_enriched_call_leaves_no_email_or_number_in_its_execution_history(stack: StackClient, demo: FakePBX,
                                                                              caller_action: str) -> None:
    channel = stack.channel(webhook_enrich_action=caller_action, advanced_config={"field_mapping": MAPPING})
    call_id = unique("call")
    demo.set_call(call_id, email="Ann@Example.com", line="online")
    dialog = stack.process(channel, {"id": call_id, "from": CALLER})
    # the operator was assigned from the enrichment email, read from the dialog
    assert dialog.operator_id == 17 and dialog.assignment.source == "enrichment"
    text = history_text(stack, dialog.execution_arn)
    assert "ann@example.com" not in text
    assert "2025550143" not in text


@pytest.mark.parametrize("status", [404, 503], ids=["terminal", "retried-then-caught"])
def test_a_failed_action_keeps_its_detail_on_the_dialog_not_in_the_history(stack: StackClient, demo: FakePBX,
                                                                           caller_action: str, status: int) -> None:
    channel = stack.channel(webhook_enrich_action=caller_action, advanced_config={"field_mapping": MAPPING})
    call_id = unique("call")
    demo.set_behaviour(call_id, status=status)
    dialog = stack.process(channel, {"id": call_id, "from": CALLER})
    # the dialog says what failed, request URL included
    assert dialog.enrichment.status == "failed"
    assert str(status) in dialog.enrichment.error["message"]
    assert "2025550143" in json.dumps(dialog.enrichment.error)
    # the execution history names the error, not the request
    text = history_text(stack, dialog.execution_arn)
    assert "2025550143" not in text
    assert "enrichment.error" in text
