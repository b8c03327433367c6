"""`callhook dialog explain`: one dialog per symptom of the seed's "common problems" table, built by real webhooks
through the local stack and the fake PBX, and the evidence the command gives for each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from callhook_admin.services.diagnosis import (
    ENRICHED_FIELDS_MISSING,
    OPERATOR_NOT_ASSIGNED,
    REAL_CALL_DIFFERS,
    TOPIC_NOT_SET,
)
from callhook_local.fake_pbx import FakePBX
from tests.integration.test_cli_support import Cli, Directory, seed_directory, settle, write_json
from tests.support.stack import StackClient, unique

# The provider sends the recording URL in a later event: empty in the call itself, which is not a problem.
MAPPING = {"call_id": "CallSid", "caller": "From", "callee": "To", "status": "CallStatus",
           "recording_url": "RecordingUrl"}


def call(call_id: str, **extra: str) -> dict[str, str]:
    return {"CallSid": call_id, "From": "+12025550143", "To": "+12025550100", "CallStatus": "completed", **extra}


@pytest.fixture(scope="module")
def directory(stack: StackClient, pbx: FakePBX) -> Directory:
    return seed_directory(stack.stack, pbx.url, str(pbx.api_key))


@pytest.fixture(scope="module")
def enriched(stack: StackClient, directory: Directory) -> dict[str, Any]:
    """A channel enriched by the directory's action; unassigned when enrichment fails."""
    return stack.channel(webhook_enrich_action=directory.action_id, advanced_config={"field_mapping": MAPPING})


@pytest.fixture
def cli(stack: StackClient) -> Cli:
    return Cli(stack.stack)


def _explain(cli: Cli, stack: StackClient, channel: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    dialog = settle(stack, channel, body)
    explained = cli.json("dialog", "explain", dialog.dialog_id)
    assert explained["dialog_id"] == dialog.dialog_id
    assert [f["symptom"] for f in explained["findings"]] == [OPERATOR_NOT_ASSIGNED, TOPIC_NOT_SET, REAL_CALL_DIFFERS,
                                                             ENRICHED_FIELDS_MISSING]
    return explained


def _finding(explained: dict[str, Any], symptom: str) -> dict[str, Any]:
    return next(f for f in explained["findings"] if f["symptom"] == symptom)


def _cause(explained: dict[str, Any], symptom: str, code: str) -> dict[str, Any]:
    finding = _finding(explained, symptom)
    assert finding["applies"] is True, finding
    return next(c for c in finding["causes"] if c["code"] == code)


def test_explain_healthy_dialog_has_no_symptom(cli: Cli, stack: StackClient, pbx: FakePBX, directory: Directory,
                                               enriched: dict[str, Any]) -> None:
    # Given a call whose action returns an active operator's email and an existing topic
    call_id = unique("ok")
    pbx.set_call(call_id, email=directory.ann_email, line=directory.topic)
    # When
    explained = _explain(cli, stack, enriched, call(call_id))
    # Then nothing applies; the mapped field this event does not carry is only mentioned
    assert explained["applying"] == []
    mapping = _finding(explained, REAL_CALL_DIFFERS)
    assert [c["code"] for c in mapping["causes"]] == ["mapped_fields_empty"]
    assert mapping["causes"][0]["evidence"]["empty_fields"] == {"recording_url": "RecordingUrl"}
    assert _finding(explained, OPERATOR_NOT_ASSIGNED)["summary"] == f"operator {directory.ann_id} assigned " \
                                                                    "(from enrichment)"


def test_explain_no_email_returned(cli: Cli, stack: StackClient, pbx: FakePBX, directory: Directory,
                                   enriched: dict[str, Any]) -> None:
    # Given the external system knows the call but not its agent
    call_id = unique("noemail")
    pbx.set_call(call_id, line=directory.topic)
    # When
    explained = _explain(cli, stack, enriched, call(call_id))
    # Then the operator is missing, and so is an enriched field
    assert explained["applying"] == [OPERATOR_NOT_ASSIGNED, ENRICHED_FIELDS_MISSING]
    assert _cause(explained, ENRICHED_FIELDS_MISSING, "result_keys_empty")["evidence"]["empty"] == {
        "operator_email": "data.agent.email"}
    cause = _cause(explained, OPERATOR_NOT_ASSIGNED, "no_email_returned")
    assert cause["evidence"]["result_expression"] == "data.agent.email"
    assert "data.agent.email" in cause["message"]


def test_explain_email_matches_no_operator(cli: Cli, stack: StackClient, pbx: FakePBX, directory: Directory,
                                           enriched: dict[str, Any]) -> None:
    # Given an email no operator has
    call_id = unique("unknownemail")
    pbx.set_call(call_id, email="Nobody@Unknown.example ", line=directory.topic)
    # When
    explained = _explain(cli, stack, enriched, call(call_id))
    # Then the email is shown as returned and as compared
    assert explained["applying"] == [OPERATOR_NOT_ASSIGNED]
    cause = _cause(explained, OPERATOR_NOT_ASSIGNED, "email_matches_no_operator")
    assert cause["evidence"]["email"] == "Nobody@Unknown.example"
    assert cause["evidence"]["compared_as"] == "nobody@unknown.example"
    assert cause["evidence"]["source"] == "enrichment"


def test_explain_operator_inactive_with_the_email_compared(cli: Cli, stack: StackClient, pbx: FakePBX,
                                                           directory: Directory, enriched: dict[str, Any]) -> None:
    # Given the inactive operator's email, in other case and with spaces
    call_id = unique("inactive")
    pbx.set_call(call_id, email=f"  {directory.bob_email.upper()} ", line=directory.topic)
    # When
    explained = _explain(cli, stack, enriched, call(call_id))
    # Then
    cause = _cause(explained, OPERATOR_NOT_ASSIGNED, "operator_inactive")
    assert cause["evidence"]["compared_as"] == directory.bob_email
    assert cause["evidence"]["operators"] == [{"user_id": directory.bob_id, "email": directory.bob_email,
                                               "active": False}]
    assert f"{directory.bob_id} <{directory.bob_email}>" in cause["message"]


def test_explain_topic_alias_unknown_with_nearest_aliases(cli: Cli, stack: StackClient, pbx: FakePBX,
                                                          directory: Directory, enriched: dict[str, Any]) -> None:
    # Given the action returns the topic alias with a typo
    call_id = unique("topic")
    typo = directory.topic.replace("online", "onlne")
    pbx.set_call(call_id, email=directory.ann_email, line=typo)
    # When
    explained = _explain(cli, stack, enriched, call(call_id))
    # Then
    assert explained["applying"] == [TOPIC_NOT_SET]
    cause = _cause(explained, TOPIC_NOT_SET, "topic_alias_unknown")
    assert cause["evidence"]["alias"] == typo
    assert directory.topic in cause["evidence"]["nearest"]
    assert cause["evidence"]["exists_now"] is False


def test_explain_mapping_left_fields_empty_that_the_action_needs(cli: Cli, stack: StackClient, pbx: FakePBX,
                                                                 directory: Directory, tmp_path: Path) -> None:
    # Given an action that works in a test (it reads {telephony.caller}) and a channel whose mapping expects
    # `from` while the real webhook sends `From`
    action_id = unique("bycaller")
    cli.json("action", "put", write_json(tmp_path / "action.json", {
        "action_id": action_id, "params": {"base_url": pbx.url}, "secrets": {"api_key": f"ssm:{directory.secret_name}"},
        "request": {"url": "{params.base_url}/calls/{telephony.caller}",
                    "headers": {"Authorization": "Bearer {secrets.api_key}"}},
        "result": {"operator_email": "data.agent.email"}, "allow_private_network": True}))
    channel = stack.channel(webhook_enrich_action=action_id,
                            advanced_config={"field_mapping": {"call_id": "CallSid", "caller": "from"}})
    # When a real call arrives
    explained = _explain(cli, stack, channel, {"CallSid": unique("real"), "From": "+12025550143"})
    # Then the mapping is the problem: which field is empty, what the body had, and what the action needed
    cause = _cause(explained, REAL_CALL_DIFFERS, "mapping_left_fields_empty")
    assert cause["evidence"]["empty_fields"] == {"caller": "from"}
    assert cause["evidence"]["needed_by"] == {"caller": "the action's request"}
    assert "From" in cause["evidence"]["raw_keys"]
    placeholder = _cause(explained, REAL_CALL_DIFFERS, "action_placeholder_empty")
    assert "telephony.caller" in placeholder["message"]
    assert ENRICHED_FIELDS_MISSING in explained["applying"]


def test_explain_webhook_operator_field_under_another_name(cli: Cli, stack: StackClient) -> None:
    # Given a channel without enrichment that maps the operator's email from `agent.email`, and a provider that
    # sends `agentEmail`
    channel = stack.channel(advanced_config={"field_mapping": {**MAPPING, "operator_email": "agent.email"}})
    # When
    explained = _explain(cli, stack, channel, call(unique("webhook"), agentEmail="ann@example.com"))
    # Then no operator, because the mapping found no email: the field, its expression and the body's keys
    assert _cause(explained, OPERATOR_NOT_ASSIGNED, "no_operator_in_webhook")
    cause = _cause(explained, REAL_CALL_DIFFERS, "mapping_left_fields_empty")
    assert cause["evidence"]["empty_fields"] == {"operator_email": "agent.email"}
    assert cause["evidence"]["needed_by"] == {"operator_email": "the workflow"}
    assert "agentEmail" in cause["evidence"]["raw_keys"]


def test_explain_enrichment_error_text(cli: Cli, stack: StackClient, pbx: FakePBX, directory: Directory,
                                       enriched: dict[str, Any]) -> None:
    # Given the external system answers 404 for this call
    call_id = unique("enrichfail")
    pbx.set_behaviour(call_id, status=404)
    # When
    explained = _explain(cli, stack, enriched, call(call_id))
    # Then the error text is the evidence, and the policy that followed is named
    cause = _cause(explained, ENRICHED_FIELDS_MISSING, "enrichment_error")
    assert cause["evidence"]["error"]["type"] == "ActionHTTPError"
    assert "answered 404" in cause["evidence"]["error"]["message"]
    assert cause["evidence"]["enrich_error_action"] == "do_not_assign"
    assert "Enrichment failed" in cause["evidence"]["feed_notice"]
    assert _cause(explained, OPERATOR_NOT_ASSIGNED, "enrichment_error")["code"] == "enrichment_error"


def test_explain_prints_a_readable_report(cli: Cli, stack: StackClient, pbx: FakePBX, directory: Directory,
                                          enriched: dict[str, Any]) -> None:
    # Given
    call_id = unique("human")
    pbx.set_call(call_id, email="ghost@unknown.example", line=directory.topic)
    dialog = settle(stack, enriched, call(call_id))
    # When
    outcome = cli.run("dialog", "explain", dialog.dialog_id)
    # Then
    assert outcome.exit_code == 0, outcome.stderr
    assert "✗ applies  Operator was not assigned" in outcome.stdout
    assert "email_matches_no_operator" in outcome.stdout
    assert "✓ no  Topic was not set" in outcome.stdout



def test_explain_assign_admin_says_the_default_operator_was_assigned_and_gives_the_error_once(
        cli: Cli, stack: StackClient, demo: FakePBX) -> None:
    # Given an assign_admin channel enriched by the demo action, and the external system answering 404
    channel = stack.channel(webhook_enrich_action="demo-pbx-lookup", enrich_error_action="assign_admin",
                            advanced_config={"field_mapping": MAPPING})
    call_id = unique("admin")
    demo.set_behaviour(call_id, status=404)
    # When
    explained = _explain(cli, stack, channel, call(call_id))
    # Then operator 1 (the demo's root admin, the default operator) was assigned: that row does not apply
    operator = _finding(explained, OPERATOR_NOT_ASSIGNED)
    assert operator["applies"] is False, operator
    assert operator["summary"].startswith("operator 1 assigned: the default operator, because enrichment failed")
    assert OPERATOR_NOT_ASSIGNED not in explained["applying"]
    # And the topic and enriched fields rows apply, with the error's evidence under the enrichment row only
    assert _cause(explained, TOPIC_NOT_SET, "enrichment_error")["evidence"] == {}
    cause = _cause(explained, ENRICHED_FIELDS_MISSING, "enrichment_error")
    assert cause["evidence"]["enrich_error_action"] == "assign_admin"
    # And the report people read prints that evidence once
    report = cli.run("dialog", "explain", explained["dialog_id"])
    assert report.exit_code == 0, report.stderr
    assert "✓ no  Operator was not assigned" in report.stdout
    assert report.stdout.count("enrich_error_action: assign_admin") == 1


def test_explain_do_not_assign_says_the_call_was_left_unassigned(cli: Cli, stack: StackClient,
                                                                demo: FakePBX) -> None:
    # Given a do_not_assign channel whose enrichment fails
    channel = stack.channel(webhook_enrich_action="demo-pbx-lookup", enrich_error_action="do_not_assign",
                            advanced_config={"field_mapping": MAPPING})
    call_id = unique("noassign")
    demo.set_behaviour(call_id, status=404)
    # When
    explained = _explain(cli, stack, channel, call(call_id))
    # Then the operator row applies because of the policy, and the error's evidence is given once
    operator = _finding(explained, OPERATOR_NOT_ASSIGNED)
    assert operator["applies"] is True
    assert "enrich_error_action is do_not_assign: the call was left unassigned" in operator["summary"]
    blocks = [c for f in explained["findings"] for c in f["causes"]
              if c["code"] == "enrichment_error" and c["evidence"]]
    assert len(blocks) == 1
