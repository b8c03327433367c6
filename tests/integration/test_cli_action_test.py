"""`callhook action test`: the Enrich step's own code on a sample call, against the fake PBX."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callhook_local.fake_pbx import FakePBX
from tests.integration.test_cli_support import Cli, Directory, seed_directory, write_json
from tests.support.stack import StackClient, unique


@pytest.fixture
def cli(stack: StackClient) -> Cli:
    return Cli(stack.stack)


@pytest.fixture(scope="module")
def directory(stack: StackClient, pbx: FakePBX) -> Directory:
    return seed_directory(stack.stack, pbx.url, str(pbx.api_key))


def test_action_test_runs_the_action_and_says_what_would_be_assigned(cli: Cli, pbx: FakePBX, directory: Directory,
                                                                     tmp_path: Path) -> None:
    # Given a telephony block, as the Enrich step receives it
    call_id = unique("t")
    pbx.set_call(call_id, email=f" {directory.ann_email.upper()}", line=directory.topic)
    sample = write_json(tmp_path / "sample.json", {"telephony": {"call_id": call_id, "caller": "+12025550143"}})
    # When
    outcome = cli.run("--json", "action", "test", directory.action_id, "--event", sample)
    report = outcome.json()
    # Then the request is shown with its secret masked, and the result resolves the operator and the topic
    assert report["ok"] is True
    assert report["request"]["url"] == f"{pbx.url}/calls/{call_id}"
    assert report["request"]["headers"] == {"Authorization": "Bearer ***"}
    assert directory.secret_value not in outcome.stdout
    assert report["status_code"] == 200
    assert report["elapsed_ms"] >= 0
    assert report["result"]["operator_email"] == directory.ann_email.upper()
    assert report["operator_id"] == directory.ann_id
    assert report["operator_attempts"][0]["code"] == "matched"
    assert report["topic"] == {"status": "set", "alias": directory.topic, "reason": None}
    # And the PBX got the real key
    assert pbx.requests[-1].headers["Authorization"] == f"Bearer {directory.secret_value}"


def test_action_test_maps_a_raw_body_with_the_channels_mapping(cli: Cli, stack: StackClient, pbx: FakePBX,
                                                               directory: Directory, tmp_path: Path) -> None:
    # Given a provider's raw body and the channel that maps it
    channel = stack.channel(advanced_config={"field_mapping": {"call_id": "call.sid", "caller": "call.from"}})
    call_id = unique("raw")
    pbx.set_call(call_id, email="nobody@unknown.example", line="no-such-topic")
    sample = write_json(tmp_path / "raw.json", {"call": {"sid": call_id, "from": "+12025550143"}})
    # When
    report = cli.json("action", "test", directory.action_id, "--event", sample, "--channel", channel["channel_id"])
    # Then the mapped call was used, and the operator and the topic would not resolve (with why)
    assert report["telephony"]["call_id"] == call_id
    assert report["telephony"]["caller"] == "+12025550143"
    assert report["operator_id"] is None
    assert report["operator_attempts"][0]["code"] == "no_such_operator"
    assert report["topic"]["reason"]["code"] == "no_such_topic"
    # And people see it too
    human = cli.run("action", "test", directory.action_id, "--event", sample, "--channel", channel["channel_id"])
    assert human.exit_code == 0, human.stderr
    assert "would assign" in human.stdout
    assert "no operator with email 'nobody@unknown.example'" in human.stdout


def test_action_test_full_state_mode_gives_the_action_the_dialog(cli: Cli, stack: StackClient, pbx: FakePBX,
                                                                 directory: Directory, tmp_path: Path) -> None:
    # Given an action that reads the dialog (full state mode)
    action_id = unique("full")
    cli.json("action", "put", write_json(tmp_path / "a.json", {
        "action_id": action_id, "params": {"base_url": pbx.url}, "secrets": {"api_key": f"ssm:{directory.secret_name}"},
        "request": {"url": "{params.base_url}/calls/{dialog.call_id}",
                    "headers": {"Authorization": "Bearer {secrets.api_key}"}},
        "result": {"operator_email": "data.agent.email"}, "allow_private_network": True}))
    call_id = unique("fs")
    pbx.set_call(call_id, email=directory.ann_email)
    sample = write_json(tmp_path / "s.json", {"telephony": {"call_id": call_id}})
    # When / Then: without full state the placeholder has no value; with it the action runs
    without = cli.run("action", "test", action_id, "--event", sample)
    assert "template" in without.error
    assert "{dialog.call_id}" in without.error
    report = cli.json("action", "test", action_id, "--event", sample, "--full-state")
    assert report["ok"] is True
    assert report["full_state"] is True
    assert report["operator_id"] == directory.ann_id


def test_action_test_failure_exits_non_zero_with_the_error(cli: Cli, pbx: FakePBX, directory: Directory,
                                                           tmp_path: Path) -> None:
    # Given the external system answers 404 for this call
    call_id = unique("fail")
    pbx.set_behaviour(call_id, status=404)
    sample = write_json(tmp_path / "sample.json", {"telephony": {"call_id": call_id}})
    # When
    outcome = cli.run("--json", "action", "test", directory.action_id, "--event", sample)
    # Then: exit 1, the reason in one line, the report (with the masked request) on stdout
    assert f"action {directory.action_id} failed: http_status:" in outcome.error
    assert "answered 404" in outcome.error
    report = json.loads(outcome.stdout)
    assert report["ok"] is False
    assert report["error"]["code"] == "http_status"
    assert report["error"]["retryable"] is False
    assert report["request"]["headers"] == {"Authorization": "Bearer ***"}
    assert directory.secret_value not in outcome.stdout + outcome.stderr


def test_action_test_needs_a_telephony_block_or_a_channel(cli: Cli, directory: Directory, tmp_path: Path) -> None:
    sample = write_json(tmp_path / "raw.json", {"CallSid": "x"})
    outcome = cli.run("action", "test", directory.action_id, "--event", sample)
    assert "has no `telephony` block" in outcome.error
    invalid = write_json(tmp_path / "bad.json", {"telephony": {"call_id": "", "duration": "long"}})
    problems = cli.run("action", "test", directory.action_id, "--event", invalid).error
    assert "call_id" in problems
    assert "duration" in problems
