"""What every repository shares: error translation at the edge that owns DynamoDB (the rule is callhook.aws_errors)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from callhook.aws_errors import THROTTLING_CODES as THROTTLING_CODES  # re-exported for older imports
from callhook.aws_errors import translated


@contextmanager
def translated_errors(what: str) -> Iterator[None]:
    """Throttling and transport faults become DependencyUnavailableError (retryable); the rest propagate as-is."""
    with translated(what, "DynamoDB"):
        yield
