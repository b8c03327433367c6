"""How long an AWS call may take: Ingest answers a waiting provider, so its calls give up sooner than the others'."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from callhook import aws
from callhook.aws import DEFAULT_LIMITS, ClientLimits, use_limits


@pytest.fixture(autouse=True)
def _default_limits_after() -> Iterator[None]:
    yield
    use_limits(DEFAULT_LIMITS)


def _limits_of(client: object) -> tuple[int, float, float]:
    config = client.meta.config  # type: ignore[attr-defined]
    return config.retries["total_max_attempts"], config.connect_timeout, config.read_timeout


def test_clients_keep_the_default_limits_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert _limits_of(aws.client("dynamodb")) == (4, 2, 10)


def test_limits_set_by_a_composition_root_apply_to_clients_made_before_and_after(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws.client("s3")
    use_limits(ClientLimits(total_attempts=2, connect_timeout_s=1, read_timeout_s=2))
    assert _limits_of(aws.client("s3")) == (2, 1, 2)
    assert _limits_of(aws.client("dynamodb")) == (2, 1, 2)


def test_ingest_sets_the_webhook_limits_when_it_builds_its_adapters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    from callhook.settings import IngestSettings
    from functions.ingest.app import adapters

    settings = IngestSettings.model_validate({
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:callhook",
        **{name: name.lower() for name in ("CHANNELS_TABLE", "DIALOGS_TABLE", "EVENTS_TABLE", "OPERATORS_TABLE",
                                           "TOPICS_TABLE", "ACTIONS_TABLE", "SETTINGS_TABLE", "RECORDINGS_BUCKET")}})
    adapters(settings)
    assert _limits_of(aws.client("dynamodb")) == (2, 1, 2)
