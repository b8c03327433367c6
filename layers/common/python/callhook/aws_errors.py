"""The one translation of AWS errors (docs/design.md): which codes mean "try again later", and how they become
`DependencyUnavailableError` (Step Functions retries it; a webhook answers 503 so the provider retries).

Every adapter that calls AWS (the repositories, Transcribe, Step Functions, Parameter Store and Secrets Manager,
Lambda) reads its codes here. Anything else propagates under its own name (a bug, or a refusal the caller handles).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from callhook.errors import DependencyUnavailableError, ItemRefusedError

# Throttling and server-side faults of the services callhook calls (DynamoDB, Transcribe, Step Functions, SSM,
# Secrets Manager, Lambda): each means the same request may succeed later.
THROTTLING_CODES = frozenset({
    "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
    "ProvisionedThroughputExceededException", "LimitExceededException", "TransactionConflictException",
    "InternalServerError", "InternalFailureException", "ServiceUnavailable", "ServiceUnavailableException",
})

# The store answered, and refused this one item: retrying the same item fails the same way.
REFUSED_CODES = frozenset({"ValidationException"})


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError, also when it is the cause of a wrapper (Powertools' parameters raise
    GetParameterError from it); else the name of the innermost exception's class."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, ClientError):
        return str(cause.response.get("Error", {}).get("Code", ""))
    return type(cause or exc).__name__


def is_throttling(exc: BaseException) -> bool:
    return error_code(exc) in THROTTLING_CODES


@contextmanager
def translated(what: str, service: str = "") -> Iterator[None]:
    """Throttling and transport faults become DependencyUnavailableError (`what: [service ]code`); the rest
    propagate as they are, for the caller to handle the codes it expects (ConditionalCheckFailed, Conflict...)."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        if code in THROTTLING_CODES:
            raise DependencyUnavailableError(f"{what}: {service + ' ' if service else ''}{code}") from exc
        raise
    except BotoCoreError as exc:  # endpoint unreachable, read timeout
        raise DependencyUnavailableError(f"{what}: {exc}") from exc


@contextmanager
def unavailable(what: str, service: str = "") -> Iterator[None]:
    """Every AWS failure becomes DependencyUnavailableError (ItemRefusedError when the store refused the item
    itself): for the writes whose caller keeps the request elsewhere
    whatever went wrong (ingest's dialog and raw event writes, then the spool; the spool, then 503). Exceptions that
    are not AWS's (a duplicate dialog, a bug) propagate."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        detail = f"{what}: {service + ' ' if service else ''}{code}"
        if code in REFUSED_CODES:
            raise ItemRefusedError(f"{detail}: {exc.response.get('Error', {}).get('Message', '')}") from exc
        raise DependencyUnavailableError(detail) from exc
    except BotoCoreError as exc:
        raise DependencyUnavailableError(f"{what}: {exc}") from exc
