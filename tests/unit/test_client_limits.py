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


def test_ingest_reads_signature_secrets_through_clients_with_the_webhook_limits_made_on_first_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    from botocore.stub import Stubber

    from callhook.errors import DependencyUnavailableError
    from callhook.settings import IngestSettings
    from functions.ingest.app import adapters

    settings = IngestSettings.model_validate({
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:callhook-secrets",
        **{name: name.lower() for name in ("CHANNELS_TABLE", "DIALOGS_TABLE", "EVENTS_TABLE", "OPERATORS_TABLE",
                                           "TOPICS_TABLE", "ACTIONS_TABLE", "SETTINGS_TABLE", "RECORDINGS_BUCKET")}})
    secrets = adapters(settings).secrets
    assert "_providers" not in vars(secrets)  # a token channel's webhook never loads the SSM or Secrets Manager model
    # Given Parameter Store throttling the read, through Ingest's own clients
    ssm = secrets._providers[0]  # type: ignore[attr-defined]
    assert _limits_of(ssm.client) == (2, 1, 2)
    with Stubber(ssm.client) as stub:
        stub.add_client_error("get_parameter", service_error_code="ThrottlingException", service_message="slow down")
        # Then the webhook is told to come back (503), naming the signature secret
        with pytest.raises(DependencyUnavailableError, match="the signature secret ssm:/callhook/sig"):
            secrets.read("ssm:/callhook/sig")
