"""What every repository shares: error translation at the edge that owns DynamoDB."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from callhook.errors import DependencyUnavailableError

THROTTLING_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable", "TransactionConflictException",
})


@contextmanager
def translated_errors(what: str) -> Iterator[None]:
    """Throttling and transport faults become DependencyUnavailableError (retryable); the rest propagate as-is."""
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in THROTTLING_CODES:
            raise DependencyUnavailableError(f"{what}: DynamoDB {code}") from exc
        raise
    except BotoCoreError as exc:  # endpoint unreachable, read timeout
        raise DependencyUnavailableError(f"{what}: {exc}") from exc
