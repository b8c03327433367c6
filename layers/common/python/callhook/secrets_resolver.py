"""The one secrets resolver: `ssm:NAME` (Parameter Store, decrypted) and `secretsmanager:NAME`, cached five minutes
(Ingest: `CHANNEL_CACHE_SECONDS`, so that a rotated signature secret applies within seconds).

Used by actions (`{secrets.…}`), signature verification (`signature.secret`) and recording credentials
(`recording_auth`); each caller names a failure in its own terms (ActionSecretError, ChannelMisconfiguredError,
RecordingNotKeptError). Which references a field accepts is the models' business (`models/validators.py`).
"""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, GetSecretError

from callhook.aws import ClientLimits
from callhook.aws_errors import error_code, is_throttling
from callhook.errors import DependencyUnavailableError
from callhook.errors import SecretUnreadableError as SecretUnreadableError  # defined with the errors; read here too
from callhook.models.validators import SECRET_KINDS

MAX_AGE_S = 300


def is_reference(value: str) -> bool:
    return value.startswith(SECRET_KINDS)


class ResolvedSecrets:
    """The `callhook.ports.Secrets` adapter a composition root hands its services (Ingest for signature secrets,
    KeepRecording for recording credentials).

    `limits`: the composition root's client limits (Ingest answers a waiting provider: `aws.WEBHOOK_ANSWER_LIMITS`),
    applied to Parameter Store and Secrets Manager clients of its own, made on the first read (a token channel never
    loads their service models). None: Powertools' default providers, whose clients keep boto3's default retries.
    """

    def __init__(self, what: str = "secret", limits: ClientLimits | None = None, max_age: float = MAX_AGE_S) -> None:
        self.what, self.limits, self.max_age = what, limits, max_age

    @functools.cached_property
    def _providers(self) -> tuple[parameters.SSMProvider, parameters.SecretsProvider] | None:
        if self.limits is None:
            return None
        config = self.limits.config()
        return parameters.SSMProvider(boto_config=config), parameters.SecretsProvider(boto_config=config)

    def read(self, reference: str, *, fresh: bool = False) -> str:
        return read_secret(reference, what=self.what, providers=self._providers, max_age=self.max_age, fresh=fresh)


def read_secret(reference: str, *, what: str = "secret",
                providers: tuple[parameters.SSMProvider, parameters.SecretsProvider] | None = None,
                max_age: float = MAX_AGE_S, fresh: bool = False) -> str:
    """The value behind `ssm:NAME` or `secretsmanager:NAME`.

    Raises:
        DependencyUnavailableError: AWS throttled the read ("reading {what} {reference} was throttled (code)").
        SecretUnreadableError: anything else ("secret {reference} could not be read (code)").
    """
    kind, _, name = reference.partition(":")
    age = int(max_age)  # Powertools counts whole seconds
    try:
        if kind == "ssm":
            value: Any = (providers[0].get(name, decrypt=True, max_age=age, force_fetch=fresh) if providers else
                          parameters.get_parameter(name, decrypt=True, max_age=age, force_fetch=fresh))
        elif kind == "secretsmanager":
            value = (providers[1].get(name, max_age=age, force_fetch=fresh) if providers else
                     parameters.get_secret(name, max_age=age, force_fetch=fresh))
        else:
            raise SecretUnreadableError(reference, "unknown_kind",
                                        f"secret reference {reference!r} has an unknown kind")
    except (GetParameterError, GetSecretError) as exc:
        code = error_code(exc)
        if is_throttling(exc):
            raise DependencyUnavailableError(f"reading {what} {reference} was throttled ({code})") from exc
        raise SecretUnreadableError(reference, code, f"secret {reference} could not be read ({code})") from exc
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
