"""The enrichment workflow: the seed's "what to check" table, row by row, on the real ASL.

Each test sends a call over HTTP to the local stack; moto's Step Functions engine runs statemachine/*.asl.json and
our step functions in-process; the Enrich step calls the fake PBX over real HTTP.
"""

from __future__ import annotations

import json
import time

import pytest

from callhook.models.directory import DEFAULT_OPERATOR_SETTING
from callhook_admin.services.config import put_action, set_setting
from callhook_admin.services.workflow import start_workflow
from callhook_local.demo import DEMO_SECRET_NAME
from callhook_local.fake_pbx import FakePBX
from tests.support.stack import StackClient, unique

JSON_MAPPING = {"call_id": "id", "caller": "from", "operator_email": "agent_email", "operator_ext": "agent_ext",
                "recording_url": "recording"}


@pytest.fixture
def channel(stack: StackClient, demo: FakePBX):
    def make(**overrides):
        return stack.channel(webhook_enrich_action="demo-pbx-lookup",
                             advanced_config={"field_mapping": JSON_MAPPING}, **overrides)
    return make


def call(pbx: FakePBX, **answer) -> dict:
    """A new call id known to the fake PBX with the given answer (email, line)."""
    call_id = unique("call")
    pbx.set_call(call_id, **answer)
    return {"id": call_id, "from": "+12025550143"}


def test_operator_assigned_and_topic_set_on_the_happy_path(stack: StackClient, channel, demo: FakePBX) -> None:
    # Given the PBX says the agent is Ann (spaces and case differ from the operator item) and the line is "online"
    ch = channel()
    # When
    dialog = stack.process(ch, call(demo, email="  ANN@example.com ", line="online"))
    # Then
    assert dialog.enrichment.status == "ok"
    assert dialog.enrichment.result["operator_email"] == "ANN@example.com"
    assert dialog.operator_id == 17
    assert dialog.assignment.status == "assigned" and dialog.assignment.source == "enrichment"
    assert dialog.topic == "online"
    assert dialog.transcription.status == "not_requested"
    assert dialog.feed == []
    # and the execution took the short path: 7 states entered
    states = stack.states_entered(dialog.execution_arn)
    assert states == ["BeginWorkflow", "EnrichmentConfigured?", "Enrich", "AssignOperator", "SetTopic",
                      "Transcribe", "Done"]


def test_unknown_email_is_not_assigned_and_says_which_email(stack: StackClient, channel, demo: FakePBX) -> None:
    dialog = stack.process(channel(), call(demo, email="Nobody@Unknown.example", line="online"))
    assert dialog.operator_id is None
    assert dialog.assignment.status == "not_assigned"
    reason = dialog.assignment.reason.model_dump()
    assert reason["code"] == "no_such_operator"
    assert reason["email"] == "Nobody@Unknown.example"
    assert reason["compared_as"] == "nobody@unknown.example"


def test_inactive_operator_is_not_assigned(stack: StackClient, channel, demo: FakePBX) -> None:
    dialog = stack.process(channel(), call(demo, email="bob@example.com", line="online"))
    assert dialog.operator_id is None
    assert dialog.assignment.reason.code == "operator_inactive"
    assert dialog.assignment.reason.model_dump()["operator_ids"] == [18]


def test_enrichment_without_email_falls_back_to_the_webhooks_email_then_ext(stack: StackClient, channel,
                                                                           demo: FakePBX) -> None:
    # Given the action returns no email; the webhook carries an unknown email and Ann's extension
    body = {**call(demo, email=None, line="offline"), "agent_email": "ghost@example.com", "agent_ext": "101"}
    # When
    dialog = stack.process(channel(), body)
    # Then the extension matched, and every attempt is recorded in order
    assert dialog.operator_id == 17
    assert dialog.assignment.source == "webhook_ext"
    assert [a.code for a in dialog.assignment.attempts] == ["no_such_operator", "matched"]
    assert dialog.topic == "offline"


def test_enrichment_without_email_and_nothing_in_the_webhook_says_no_email_returned(
        stack: StackClient, channel, demo: FakePBX) -> None:
    dialog = stack.process(channel(), call(demo, email=None, line="online"))
    assert dialog.assignment.reason.code == "no_email_returned"


def test_topic_is_set_only_on_an_exact_existing_alias(stack: StackClient, channel, demo: FakePBX) -> None:
    # Given the action returns an alias that differs from an existing one only by case
    dialog = stack.process(channel(), call(demo, email="ann@example.com", line="Online"))
    # Then no topic, the alias compared and the nearest existing ones are recorded
    assert dialog.topic is None
    reason = dialog.topic_resolution.reason.model_dump()
    assert reason["code"] == "no_such_topic"
    assert reason["alias"] == "Online"
    assert "online" in reason["nearest"]
    assert dialog.operator_id == 17  # the operator is unaffected


def test_enrichment_disabled_uses_the_webhook_fields_only(stack: StackClient, demo: FakePBX) -> None:
    # Given a channel without webhook_enrich_action (empty string counts as empty)
    ch = stack.channel(webhook_enrich_action="", advanced_config={"field_mapping": JSON_MAPPING})
    # When
    dialog = stack.process(ch, {"id": unique("call"), "agent_email": " Ann@Example.com"})
    # Then
    assert dialog.enrichment.status == "disabled"
    assert dialog.operator_id == 17 and dialog.assignment.source == "webhook_email"
    assert dialog.topic_resolution.reason.code == "enrichment_disabled"
    assert "Enrich" not in stack.states_entered(dialog.execution_arn)


def test_enrichment_failure_with_do_not_assign(stack: StackClient, channel, demo: FakePBX) -> None:
    # Given the PBX keeps failing with 503 (retried, then caught), and the channel transcribes automatically
    ch = channel(enrich_error_action="do_not_assign", auto_transcription=True)
    body = {**call(demo), "agent_email": "ann@example.com", "recording": "https://rec.example.com/r.wav"}
    demo.set_behaviour(body["id"], status=503)
    # When
    dialog = stack.process(ch, body)
    # Then the dialog exists, unassigned (even though the webhook has an email), no transcription, a message
    assert dialog.enrichment.status == "failed"
    assert "503" in dialog.enrichment.error["message"]
    assert dialog.operator_id is None
    assert dialog.assignment.reason.code == "enrichment_failed"
    assert dialog.transcription.status == "skipped"
    assert dialog.transcription.reason.code == "enrichment_failed_do_not_assign"
    assert [(f.kind, f.code) for f in dialog.feed] == [("service", "enrichment_failed")]
    # and the history shows the retries of the transient error, then the failure branch
    history = stack.history(dialog.execution_arn)
    failures = [e["taskFailedEventDetails"]["error"] for e in history if e["type"] == "TaskFailed"]
    assert failures == ["DependencyUnavailableError"] * 4
    assert "LeaveUnassigned" in stack.states_entered(dialog.execution_arn)
    assert stack.wait_execution(dialog.dialog_id)["status"] == "SUCCEEDED"


def test_enrichment_failure_with_assign_admin(stack: StackClient, channel, demo: FakePBX) -> None:
    # Given an action answering garbage (not retried) and the assign_admin policy
    ch = channel(enrich_error_action="assign_admin", auto_transcription=True)
    body = call(demo)
    demo.set_behaviour(body["id"], garbage=True)
    # When
    dialog = stack.process(ch, body)
    # Then the default operator (1) is assigned, the service message posted, transcription considered
    assert dialog.enrichment.status == "failed"
    assert dialog.enrichment.error["code"] == "invalid_json"
    assert dialog.operator_id == 1
    assert dialog.assignment.source == "default_operator"
    assert [f.code for f in dialog.feed] == ["enrichment_failed"]
    assert "default operator 1" in dialog.feed[0].text
    assert dialog.transcription.reason.code != "enrichment_failed_do_not_assign"
    assert stack.states_entered(dialog.execution_arn)[-3:] == ["AssignDefaultOperator", "Transcribe", "Done"]


def test_assign_admin_uses_the_instance_setting(stack: StackClient, channel, demo: FakePBX) -> None:
    # Given the instance's default operator is 17
    set_setting(stack.env["SETTINGS_TABLE"], DEFAULT_OPERATOR_SETTING, 17)
    try:
        body = call(demo)
        demo.set_behaviour(body["id"], status=404)
        dialog = stack.process(channel(enrich_error_action="assign_admin"), body)
    finally:
        set_setting(stack.env["SETTINGS_TABLE"], DEFAULT_OPERATOR_SETTING, 1)
    # Then
    assert dialog.enrichment.error["code"] == "http_status"
    assert dialog.operator_id == 17


def test_transient_failures_are_retried_then_succeed(stack: StackClient, channel, demo: FakePBX) -> None:
    # Given the PBX fails twice with 503, then answers
    body = call(demo, email="ann@example.com", line="online")
    demo.set_behaviour(body["id"], fail_times=2)
    # When
    dialog = stack.process(channel(), body)
    # Then
    assert dialog.enrichment.status == "ok" and dialog.operator_id == 17
    history = stack.history(dialog.execution_arn)
    assert [e["taskFailedEventDetails"]["error"] for e in history if e["type"] == "TaskFailed"] == \
        ["DependencyUnavailableError"] * 2


def test_private_destination_is_refused_with_its_reason(stack: StackClient, demo: FakePBX) -> None:
    # Given an action that calls the (loopback) PBX without allow_private_network
    action_id = unique("blocked")
    put_action(stack.env["ACTIONS_TABLE"], {
        "action_id": action_id, "type": "http", "params": {"base_url": demo.url},
        "secrets": {"api_key": f"ssm:{DEMO_SECRET_NAME}"},
        "request": {"method": "GET", "url": "{params.base_url}/calls/{telephony.call_id}",
                    "headers": {"Authorization": "Bearer {secrets.api_key}"}},
        "result": {"operator_email": "data.agent.email"}})
    ch = stack.channel(webhook_enrich_action=action_id, advanced_config={"field_mapping": JSON_MAPPING})
    before = len(demo.requests)
    # When
    dialog = stack.process(ch, {"id": unique("call")})
    # Then: refused before any connection, and the dialog says why
    assert dialog.enrichment.status == "failed"
    assert dialog.enrichment.error["code"] == "blocked_destination"
    assert "127.0.0.1" in dialog.enrichment.error["message"]
    assert len(demo.requests) == before


def test_unknown_action_fails_enrichment_with_a_clear_reason(stack: StackClient, demo: FakePBX) -> None:
    ch = stack.channel(webhook_enrich_action="no-such-action", advanced_config={"field_mapping": JSON_MAPPING})
    dialog = stack.process(ch, {"id": unique("call")})
    assert dialog.enrichment.error["code"] == "action_not_found"
    assert "no-such-action" in dialog.enrichment.error["message"]


def test_replayed_execution_leaves_the_same_dialog(stack: StackClient, channel, demo: FakePBX) -> None:
    # Given a processed call whose enrichment failed (so it has a feed message)
    body = call(demo)
    demo.set_behaviour(body["id"], status=400)
    first = stack.process(channel(enrich_error_action="assign_admin"), body)
    # When the workflow runs again for the same dialog (a replay, with a derived execution name)
    arn = start_workflow(stack.state_machine_arn, first, execution_name=f"{first.dialog_id}-r1")
    _wait(stack, arn)
    again = stack.dialog(first.dialog_id)
    # Then the same outcome, and the feed message is not posted twice
    assert again is not None
    assert (again.operator_id, again.topic, again.enrichment.status) == (first.operator_id, first.topic, "failed")
    assert [f.id for f in again.feed] == [f.id for f in first.feed]


def _wait(stack: StackClient, arn: str) -> None:
    for _ in range(600):
        if stack.sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
            return
        time.sleep(0.05)
    raise AssertionError(f"{arn} did not finish")


def test_every_case_has_a_readable_history(stack: StackClient, channel, demo: FakePBX) -> None:
    # Given a processed call
    dialog = stack.process(channel(), call(demo, email="ann@example.com", line="online"))
    # When ops read the history through the standard API
    history = stack.history(dialog.execution_arn)
    # Then every task's input and output is JSON naming the dialog
    outputs = [json.loads(e["stateExitedEventDetails"]["output"]) for e in history if "stateExitedEventDetails" in e]
    assert outputs and all(o["dialog_id"] == dialog.dialog_id for o in outputs)
