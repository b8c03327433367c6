"""One secrets resolver and one translation of AWS errors, whoever reads.

An action's `{secrets.…}`, a channel's `signature.secret` and its `recording_auth` read through
`callhook.secrets_resolver`; a throttled read is retryable for each of them alike, a missing one is each caller's
own refusal. Parameter Store's answers are made with botocore's Stubber-free way: Powertools' own exception
wrapping a ClientError, as `parameters.get_parameter` raises it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError, EndpointConnectionError

from callhook.aws_errors import THROTTLING_CODES, error_code, translated
from callhook.errors import (
    ActionSecretError,
    ChannelMisconfiguredError,
    DependencyUnavailableError,
)
from callhook.models.channel import RecordingAuth
from callhook.secrets_resolver import ResolvedSecrets, SecretUnreadableError, read_secret
from callhook.services import actions, recordings, signatures
from callhook.services.recordings import RecordingNotKeptError
from tests.support.fakes import FakeSecrets


def _ssm_answers(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    def get_parameter(name: str, **_: Any) -> str:
        try:
            raise ClientError({"Error": {"Code": code, "Message": "no"}}, "GetParameter")
        except ClientError as exc:
            raise GetParameterError(str(exc)) from exc
    monkeypatch.setattr(parameters, "get_parameter", get_parameter)


def _recording_secret(reference: str) -> None:
    recordings.recording_credentials(RecordingAuth(type="bearer", token=reference, hosts=["media.example.com"]),
                                     ResolvedSecrets())


READERS: dict[str, Callable[[str], Any]] = {
    "action": actions.resolve_secret,
    "signature": lambda reference: signatures.resolve_secret(reference, ResolvedSecrets(what="the signature secret")),
    "recording": _recording_secret,
}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("code", ["ThrottlingException", "TooManyRequestsException", "InternalServerError"])
def test_a_throttled_secret_read_is_retryable_for_every_reader(monkeypatch: pytest.MonkeyPatch, reader: str,
                                                               code: str) -> None:
    # Given
    _ssm_answers(monkeypatch, code)
    # When / Then
    with pytest.raises(DependencyUnavailableError, match=code):
        READERS[reader]("ssm:/callhook/key")


@pytest.mark.parametrize(("reader", "error"), [("action", ActionSecretError), ("signature", ChannelMisconfiguredError),
                                               ("recording", RecordingNotKeptError)])
def test_a_missing_secret_is_each_readers_own_refusal_naming_the_reference(monkeypatch: pytest.MonkeyPatch,
                                                                          reader: str, error: type) -> None:
    # Given
    _ssm_answers(monkeypatch, "ParameterNotFound")
    # When / Then
    with pytest.raises(error, match=r"ssm:/callhook/key could not be read \(ParameterNotFound\)"):
        READERS[reader]("ssm:/callhook/key")


def test_an_unknown_kind_of_reference_is_unreadable_not_looked_up() -> None:
    with pytest.raises(SecretUnreadableError, match="unknown kind"):
        read_secret("vault:/x")


def test_a_signature_secret_that_is_not_a_reference_is_the_secret_itself() -> None:
    assert signatures.resolve_secret("whsec_plain", FakeSecrets()) == "whsec_plain"


def test_translated_makes_throttling_and_transport_faults_retryable_and_lets_the_rest_through() -> None:
    with (pytest.raises(DependencyUnavailableError, match="read dialog: DynamoDB ProvisionedThroughputExceeded"),
          translated("read dialog", "DynamoDB")):
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "GetItem")
    with pytest.raises(DependencyUnavailableError, match="StartExecution"), translated("StartExecution"):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    with pytest.raises(ClientError), translated("write"):
        raise ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "PutItem")


def test_every_former_copy_of_the_throttling_codes_is_in_the_one_set() -> None:
    # The four sets this replaced (DynamoDB repositories, actions, signatures, transcription), as they were
    former = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
              "InternalServerError", "ServiceUnavailable", "TransactionConflictException", "Throttling",
              "TooManyRequestsException", "LimitExceededException", "InternalFailureException",
              "ServiceUnavailableException"}
    assert former <= THROTTLING_CODES


def test_error_code_reads_through_a_wrapper() -> None:
    wrapped = GetParameterError("wrapped")
    wrapped.__cause__ = ClientError({"Error": {"Code": "AccessDeniedException"}}, "GetParameter")
    assert error_code(wrapped) == "AccessDeniedException"
