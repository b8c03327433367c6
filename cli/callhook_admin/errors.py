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


class LeftoverNotDeletedError(AdminError):
    """AWS refused to delete something of a dialog outside its table (a Transcribe job); `code` is its error code."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class InvokeFailedError(AdminError):
    """Lambda did not accept an invoke, or the function failed on a synchronous one (the SDK's or its message)."""


class StreamRecordsGoneError(AdminError):
    """The stream no longer holds a failed batch's records (DynamoDB Streams keeps them 24 hours)."""
