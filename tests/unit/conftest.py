"""Unit fixtures: moto's in-process mock (never after the local stack started: it would reset its backends)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class FakeContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeContext:
    return FakeContext()


def load_event(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "events" / f"{name}.json").read_text())


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Every table of template.yaml (keys and indexes read from it) and the state machine, in moto's mock."""
    from moto import mock_aws

    from callhook.aws import reset_clients
    from callhook.repositories.config import clear_channel_cache
    from callhook.settings import clear_settings_cache
    from callhook_local.template import load_template, resources_of_type, table_spec
    from tests.conftest import local_stack_running

    assert not local_stack_running(), "mock_aws would reset the running local stack's moto backends"
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    template = load_template()
    with mock_aws():
        env: dict[str, str] = {}
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        for logical in resources_of_type(template, "AWS::DynamoDB::Table"):
            name = f"unit-{logical}"
            ddb.create_table(TableName=name, **table_spec(logical, template))
            env[_env_name(logical)] = name
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="unit-recordings")
        env["RECORDINGS_BUCKET"] = "unit-recordings"
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        env["STATE_MACHINE_ARN"] = sfn.create_state_machine(
            name="unit-workflow", roleArn="arn:aws:iam::123456789012:role/unit",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}))["stateMachineArn"]
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        reset_clients()
        clear_settings_cache()
        clear_channel_cache()
        yield env
    reset_clients()
    clear_settings_cache()
    clear_channel_cache()
    assert "AWS_ENDPOINT_URL" not in os.environ


def _env_name(logical_id: str) -> str:
    """ChannelsTable -> CHANNELS_TABLE (the template's Globals use these names)."""
    return "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(logical_id)).upper()
