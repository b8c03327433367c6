"""What a new user meets in the first hour, held by tests: a misspelt field suggests the right name wherever an
item is judged (CLI, `check`, the stream's check of a console-written item, an operator read raw), a normal step
that counts nothing prints no warning, a heartbeat after the wait ended is not an alarming line, the CLI's hints
name the program as it was run and the same target."""

from __future__ import annotations

import json
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from callhook.models.channel import Channel
from callhook.models.directory import read_operator_item
from callhook.models.problems import InvalidItem, field_names
from callhook.services.config_check import check_item
from callhook_cli.context import State, program
from callhook_cli.target import TargetOptions


# ------------------------------------------------------------------------------------------------- did you mean
def test_a_console_written_channel_with_misspelt_fields_gets_the_names_it_meant() -> None:
    # Given a channel item as an admin might write it by hand in the DynamoDB console
    item = {"channel_id": "raw", "webhook_token": "t" * 20, "enrich_eror_action": "assign_admin",
            "advanced_config": {"field_maping": {"call_id": "CallSid"}, "transcription": {"langauge": "en-US"}}}
    # When CheckConfig (and `channel check`) judges it
    problems = {p.path: p.message for p in check_item("channel", item).problems}
    # Then each misspelt field names the one it meant, at its own level
    assert problems == {
        "enrich_eror_action": "Extra inputs are not permitted; did you mean `enrich_error_action`?",
        "advanced_config.field_maping": "Extra inputs are not permitted; did you mean `field_mapping`?",
        "advanced_config.transcription.langauge": "Extra inputs are not permitted; did you mean `language`?",
    }


def test_an_action_of_either_type_and_an_operator_get_suggestions() -> None:
    http = check_item("action", {"action_id": "a", "type": "http", "request": {"url": "https://x.example/y"},
                                 "reslt": {"topic": "line"}}).problems
    assert [str(p) for p in http] == ["reslt: Extra inputs are not permitted; did you mean `result`?"]
    lam = check_item("action", {"action_id": "b", "type": "lambda", "function_name": "callhook-action-x",
                                "parms": {}}).problems
    assert [str(p) for p in lam] == ["parms: Extra inputs are not permitted; did you mean `params`?"]
    operator = read_operator_item({"user_id": 5, "email": "e@example.com", "emial": "e@example.com"})
    assert isinstance(operator, InvalidItem)
    assert operator.summary() == "emial: Extra inputs are not permitted; did you mean `email`?"


def test_an_unrelated_extra_field_gets_no_guess() -> None:
    problems = check_item("channel", {"channel_id": "raw", "webhook_token": "t" * 20, "zzz": 1}).problems
    assert [p.message for p in problems] == ["Extra inputs are not permitted"]


def test_field_names_walks_nested_models_lists_and_dicts() -> None:
    assert "field_mapping" in field_names(Channel, ("advanced_config",))
    assert "channel_id" in field_names(Channel)
    assert field_names(Channel, ("no_such_field",)) == set()


# --------------------------------------------------------------------------------------------------- no warnings
def test_a_handler_that_counts_nothing_prints_no_warning_and_one_that_counts_publishes(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    from callhook.observability import metrics

    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Callhook")

    @metrics.log_metrics
    def quiet(event: dict[str, Any], context: Any) -> None:
        return None

    @metrics.log_metrics
    def counting(event: dict[str, Any], context: Any) -> None:
        metrics.add_metric(name="WebhookAccepted", unit=MetricUnit.Count, value=1)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet({}, None)
        counting({}, None)
    assert [str(w.message) for w in caught] == []
    published = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert [m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] for m in published] == ["WebhookAccepted"]


@pytest.mark.parametrize(("code", "level"), [("InvalidToken", logging.DEBUG), ("TaskTimedOut", logging.DEBUG),
                                             ("AccessDeniedException", logging.WARNING)])
def test_a_heartbeat_after_the_wait_ended_is_not_an_alarming_line(
        code: str, level: int, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    # moto answers any token: Step Functions' answer to a dead token is given by a stubbed client
    from callhook.observability import logger
    from callhook.repositories import transcribe as adapter_module

    sfn = boto3.client("stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    previous = logger.log_level
    logger.setLevel(logging.DEBUG)
    try:
        with Stubber(sfn) as stub, caplog.at_level(logging.DEBUG, logger=logger.name):
            stub.add_client_error("send_task_heartbeat", service_error_code=code)
            monkeypatch.setattr(adapter_module, "client", lambda service: sfn)
            adapter_module.StepFunctionsTaskTokens().heartbeat("tok")  # never raises
    finally:
        logger.setLevel(previous)
    heartbeat = [r for r in caplog.records if "heartbeat" in r.getMessage()]
    assert [r.levelno for r in heartbeat] == [level]


# ------------------------------------------------------------------------------------------------------ CLI hints
def test_the_program_in_a_hint_is_the_one_that_was_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    script = tmp_path / "venv" / "bin" / "callhook"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert program(".venv/bin/callhook") == ".venv/bin/callhook"  # not on PATH: the path it was run by
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")
    assert program(str(script)) == "callhook"  # on PATH (an activated venv): the bare name works
    assert program(sys.executable) == "callhook"  # in process (python -m, tests)


def test_a_hint_reaches_the_same_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", [".venv/bin/callhook"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("CALLHOOK_AWS_PORT", "5123")
    local = State(options=TargetOptions(local=True))
    assert local.command("dialog list --channel c") == \
        "CALLHOOK_AWS_PORT=5123 .venv/bin/callhook --local dialog list --channel c"
    monkeypatch.setenv("CALLHOOK_AWS_PORT", "5000")
    assert local.command("x") == ".venv/bin/callhook --local x"
    deployed = State(options=TargetOptions(env="prod", region="eu-west-1"))
    assert deployed.command("x") == ".venv/bin/callhook --env prod --region eu-west-1 x"


# ----------------------------------------------------------------------------------------------- exit codes
def test_a_usage_error_exits_2_with_one_line_naming_the_help_to_read() -> None:
    import subprocess

    # Given the installed console script, run by its path as from the repository without an activated venv
    script = Path(sys.executable).parent / "callhook"
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    # When an option is unknown, and when an argument is missing
    unknown = subprocess.run([str(script), "dialog", "list", "--chanel", "c"], capture_output=True, text=True,
                             env=env, timeout=60)
    missing = subprocess.run([str(script), "channel", "put"], capture_output=True, text=True, env=env, timeout=60)
    # Then each exits 2 with one stderr line, nothing on stdout, and a --help hint that runs as printed
    for outcome, command in ((unknown, "dialog list"), (missing, "channel put")):
        assert outcome.returncode == 2, outcome.stderr
        assert outcome.stdout == ""
        lines = outcome.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), outcome.stderr
        assert f"(see `{script} {command} --help`)" in lines[0]
    assert "--chanel" in unknown.stderr


# ---------------------------------------------------------------------------------------- channel put's token
def test_the_token_a_channel_put_writes() -> None:
    from callhook_admin.errors import AdminError
    from callhook_admin.services.config import TokenSource, with_webhook_token

    stored = {"channel_id": "main", "webhook_token": "s" * 24}
    new_file = {"channel_id": "main"}
    # a new channel gets one; a stored one keeps its own; a file's own token wins; rotation replaces it
    generated, source = with_webhook_token(new_file, None)
    assert source == TokenSource.GENERATED and len(generated["webhook_token"]) >= 16
    assert with_webhook_token(new_file, stored) == ({**new_file, "webhook_token": "s" * 24}, TokenSource.KEPT)
    own = {**new_file, "webhook_token": "o" * 24}
    assert with_webhook_token(own, stored) == (own, TokenSource.FILE)
    rotated, source = with_webhook_token(new_file, stored, rotate=True)
    assert source == TokenSource.GENERATED and rotated["webhook_token"] not in (None, "s" * 24)
    # the stored token read back through its mask may be rotated too
    assert with_webhook_token(stored, stored, rotate=True)[0]["webhook_token"] != "s" * 24
    # a signature channel has no token: nothing is added, and there is nothing to rotate
    signed = {**new_file, "signature": {"scheme": "twilio", "secret": "ssm:/callhook/twilio"}}
    assert with_webhook_token(signed, stored) == (signed, TokenSource.NONE)
    with pytest.raises(AdminError, match="no token to rotate"):
        with_webhook_token(signed, stored, rotate=True)
    with pytest.raises(AdminError, match="remove webhook_token from the file"):
        with_webhook_token(own, stored, rotate=True)
