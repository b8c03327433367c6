"""Deadlines that hold against slow peers: an action or a recording URL whose server sends its headers, then one
byte a second, fails as a timeout within its own deadline (and its retries), through the real workflow on the
local stack, and the dialog says why (`callhook dialog get` / `explain`)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from callhook_admin.services.config import put_action
from callhook_local.demo import DEMO_SECRET_NAME
from callhook_local.fake_pbx import FakePBX
from tests.integration.test_cli_support import Cli
from tests.support.stack import StackClient, unique

MAPPING = {"call_id": "id", "recording_url": "recording"}
TIMEOUT_S = 2
# Enrich's Retry for DependencyUnavailableError: 3 retries after the first attempt, backoff 1, 2, 4 s (full jitter).
ATTEMPTS, MAX_BACKOFF_S = 4, 1 + 2 + 4
SLACK_S = 10  # the local stack's own work (sandboxes, moto's engine) on a shared machine


@pytest.fixture
def cli(stack: StackClient) -> Cli:
    return Cli(stack.stack)


@pytest.fixture
def keep_settings(stack: StackClient) -> Iterator[Callable[..., None]]:
    lam = stack.stack.client("lambda")
    name = stack.stack.physical("KeepRecordingFunction")
    before = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]

    def change(**env: str) -> None:
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": {**before, **env}})
    yield change
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": before})


def dripping_action(stack: StackClient, pbx: FakePBX) -> str:
    action_id = unique("drip")
    put_action(stack.env["ACTIONS_TABLE"], {
        "action_id": action_id, "type": "http", "params": {"base_url": pbx.url},
        "secrets": {"api_key": f"ssm:{DEMO_SECRET_NAME}"}, "allow_private_network": True,
        "request": {"method": "GET", "url": "{params.base_url}/calls/{telephony.call_id}",
                    "headers": {"Authorization": "Bearer {secrets.api_key}"}, "timeout_s": TIMEOUT_S},
        "result": {"operator_email": "data.agent.email"}})
    return action_id


def test_an_action_whose_answer_drips_fails_as_timeout_within_its_deadline(stack: StackClient, demo: FakePBX,
                                                                           cli: Cli) -> None:
    # Given an action (timeout_s 2) whose system sends its headers at once, then one byte a second (its ~100 byte
    # answer would take minutes: longer than the Enrich function's own timeout)
    call_id = unique("call")
    demo.set_call(call_id, email="ann@example.com", line="online")
    demo.set_behaviour(call_id, drip_s=1.0)
    channel = stack.channel(webhook_enrich_action=dripping_action(stack, demo),
                            advanced_config={"field_mapping": MAPPING})
    # When
    dialog = stack.process(channel, {"id": call_id})
    # Then: every attempt ended at its deadline (not at the function's own timeout), and the execution went on to
    # its failure branch
    history = stack.history(dialog.execution_arn)
    attempts = [(e["timestamp"], f["timestamp"]) for e, f in itertools.pairwise(history)
                if e["type"] == "TaskStarted" and f["type"] == "TaskFailed"]
    assert len(attempts) == ATTEMPTS
    assert all((failed - started).total_seconds() < TIMEOUT_S + SLACK_S / 2 for started, failed in attempts), attempts
    execution = stack.sfn.describe_execution(executionArn=dialog.execution_arn)
    took = (execution["stopDate"] - execution["startDate"]).total_seconds()
    assert took < ATTEMPTS * TIMEOUT_S + MAX_BACKOFF_S + SLACK_S, took
    assert dialog.enrichment.status == "failed"
    error = dialog.enrichment.error
    assert error["code"] == "timeout" and error["phase"] == "body" and error["timeout_s"] == TIMEOUT_S
    assert f"within {TIMEOUT_S}s" in error["message"]
    failures = [e["taskFailedEventDetails"]["error"] for e in history if e["type"] == "TaskFailed"]
    assert failures == ["DependencyUnavailableError"] * ATTEMPTS  # never Sandbox.Timedout
    # and the CLI says why
    shown = cli.json("dialog", "get", dialog.dialog_id)
    assert shown["enrichment"]["error"]["code"] == "timeout"
    explained = cli.json("dialog", "explain", dialog.dialog_id)
    text = str(explained)
    assert "did not finish answering within 2s" in text


def test_a_recording_that_drips_fails_as_recording_timeout_within_its_deadline(
        stack: StackClient, pbx: FakePBX, keep_settings: Callable[..., None], cli: Cli) -> None:
    # Given a recording URL that sends its headers, then one byte a second, and a 2 s download deadline
    keep_settings(RECORDING_TIMEOUT_S=str(TIMEOUT_S))
    name = unique("rec") + ".wav"
    pbx.add_recording(name, b"RIFF" + b"\0" * 4000, "audio/wav")
    pbx.set_behaviour(f"recordings/{name}", drip_s=1.0)
    channel = stack.channel(allow_private_network=True, advanced_config={"field_mapping": MAPPING})
    started = time.monotonic()
    # When
    resp = stack.post(channel, json_body={"id": unique("call"), "recording": f"{pbx.url}/recordings/{name}"})
    assert resp.status_code == 200, resp.text
    dialog = stack.wait_recording(resp.json()["dialog_id"], timeout=TIMEOUT_S + SLACK_S)
    # Then: not left pending, and the reason says why
    assert time.monotonic() - started < TIMEOUT_S + SLACK_S
    assert dialog.recording is not None and dialog.recording.status == "failed"
    reason: Any = dialog.recording.reason
    assert reason.code == "recording_timeout" and f"within {TIMEOUT_S}s" in reason.message
    shown = cli.json("dialog", "get", dialog.dialog_id)
    assert shown["recording"]["reason"]["code"] == "recording_timeout"
    # Lambda retries a timeout: let those attempts end here, while the 2 s deadline is still the function's
    pbx.clear_behaviour(f"recordings/{name}")
    assert stack.stack.async_invokes is not None and stack.stack.async_invokes.wait_idle(60)
