"""Errors of admin operations; the CLI prints each as one line (callhook_cli.errors.translate)."""

from __future__ import annotations

from callhook.errors import CallhookError


class AdminError(CallhookError):
    """An admin operation that cannot be done as asked (unknown id, nothing to replay, ...); the CLI prints it."""


class ItemNotFoundError(AdminError):
    pass


class NotReplayableError(AdminError):
    pass


class ExecutionStillRunningError(AdminError):
    """A wait for an execution ran out of time."""
