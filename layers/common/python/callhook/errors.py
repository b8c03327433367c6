"""callhook errors. The leaf class names are the Step Functions error contract (``ErrorEquals``).

* CallhookError
  x RetryableError             -> ASL Retry with backoff and full jitter, then Catch
    + DependencyUnavailableError   (AWS throttling / 5xx, an external system's 5xx or timeout)
  x TerminalError              -> ASL Catch only, never retried
    + ActionError                  (an Action Jail action failed; ``code`` says how)
      + ActionNotFoundError
      + ActionTimeoutError         (retryable in spirit; listed in the Enrich Retry)
      + ActionHTTPError
      + ActionResponseError        (invalid JSON, oversized, missing required result)
      + BlockedDestinationError    (private / loopback / metadata address refused)
    + DialogNotFoundError
    + ChannelConfigError           (the channel item fails validation)
    + InvalidPhoneNumberError      (`dialog erase --phone` given something that is not E.164)
  x WebhookRejectedError       -> an HTTP answer of the webhook API (never reaches Step Functions)
    + ChannelNotFoundError 404, UnauthorizedError 401, ChannelInactiveError 403,
      PayloadTooLargeError 413, UnsupportedContentTypeError 415, UnreadableBodyError 400,
      MissingCallIdError 422, ChannelMisconfiguredError 503
  x DialogStoreUnavailableError -> never answered: ingest spools the request (202) instead
  x ItemRefusedError           -> ingest's writes: the store works but refuses this item; kept elsewhere, then set aside
  x DialogExistsError          -> the same call again (a re-delivery): ingest answers `duplicate`
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from callhook.models.dialog import Dialog


class CallhookError(Exception):
    """Errors we raise on purpose. Anything else is a bug and surfaces under its own name."""


class RetryableError(CallhookError):
    """Transient: Step Functions retries these with backoff before catching."""


class TerminalError(CallhookError):
    """Permanent for this input: caught, never retried."""


class DependencyUnavailableError(RetryableError):
    """An AWS service or external system was throttled, timed out or answered 5xx."""


class ItemRefusedError(CallhookError):
    """The store refused this one item (DynamoDB's ValidationException: over 400 KB, nested too deep...).

    On the webhook path it is one more reason to keep the request in the next store, as for any failed write. A
    drain of kept requests (services/kept.py) tells it apart: the store works, so the request is set aside with
    this reason and the drain goes on, instead of waiting for a store that will refuse it on every pass.
    """


class DialogExistsError(Exception):
    """The conditional create found the dialog already stored (a re-delivery). Carries the stored one."""

    def __init__(self, existing: Dialog) -> None:
        super().__init__(existing.dialog_id)
        self.existing = existing


class DialogStoreUnavailableError(CallhookError):
    """Ingest could not write the call (dialog, update or raw event) after the SDK's retries.

    Never answered 5xx by itself: ingest keeps the request in the spool (a second durable store) and answers 202;
    the reconciler turns it into its dialog later. ``dialog_id`` is the call's deterministic id when it is known.
    """

    def __init__(self, message: str, *, dialog_id: str | None = None) -> None:
        super().__init__(message)
        self.dialog_id = dialog_id


class ActionError(TerminalError):
    """An Action Jail action failed. ``code`` is a stable, machine-readable reason."""

    code: ClassVar[str] = "action_failed"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "code": self.code, "message": self.message, **self.details}

    def for_execution_history(self) -> ActionError:
        """The same error (its class name is the Step Functions contract) without its message, which may quote a
        URL built from the call or the external system's answer: execution histories outlive an erasure."""
        return type(self)(f"{self.code}: the action failed; the dialog's enrichment.error says why")


class ActionNotFoundError(ActionError):
    code = "action_not_found"


class ActionTimeoutError(ActionError):
    code = "timeout"


class ActionConnectionError(ActionError):
    code = "connection_failed"


class ActionHTTPError(ActionError):
    code = "http_status"


class ActionResponseError(ActionError):
    code = "bad_response"


class BlockedDestinationError(ActionError):
    code = "blocked_destination"


class DialogNotFoundError(TerminalError):
    """The workflow was started for a dialog that is not in the table."""


class ChannelConfigError(TerminalError):
    """A channel item failed validation; the message names every problem with its field path."""


class InvalidPhoneNumberError(TerminalError):
    """A number to erase is not E.164: matching a national number could erase someone else's calls."""


class WebhookRejectedError(CallhookError):
    """A webhook request we answer with an error status. ``reason`` is a stable code for metrics and raw events."""

    status_code: ClassVar[int] = 400
    reason: ClassVar[str] = "bad_request"
    store_raw_event: ClassVar[bool] = False  # authenticated payloads that cannot become a dialog are kept

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def answer(self) -> dict[str, Any]:
        return {"status": "rejected", "reason": self.reason, "message": self.message}

    def answer_json(self) -> str:
        return json.dumps(self.answer())


class UnreadableBodyError(WebhookRejectedError):
    status_code = 400
    reason = "unreadable_body"


class UnauthorizedError(WebhookRejectedError):
    status_code = 401
    reason = "unauthorized"


class ChannelInactiveError(WebhookRejectedError):
    status_code = 403
    reason = "channel_inactive"
    store_raw_event = True


class ChannelNotFoundError(WebhookRejectedError):
    status_code = 404
    reason = "unknown_channel"


class PayloadTooLargeError(WebhookRejectedError):
    status_code = 413
    reason = "payload_too_large"


class UnsupportedContentTypeError(WebhookRejectedError):
    status_code = 415
    reason = "unsupported_content_type"


class MissingCallIdError(WebhookRejectedError):
    status_code = 422
    reason = "missing_call_id"
    store_raw_event = True


class ChannelMisconfiguredError(WebhookRejectedError):
    """Our (the admin's) configuration is broken: 503 so that the provider retries after the fix."""

    status_code = 503
    reason = "channel_misconfigured"


# Action failure leaves used by callhook.outbound and callhook.services.actions. Each leaf exists so that its
# ``code`` is a class attribute like its parents'; all are TerminalErrors (never retried). The transient ones
# (timeouts, refused connections, 5xx, 429) are raised as DependencyUnavailableError instead, see run_action.


class ActionTemplateError(ActionError):
    """A placeholder of the action's request names a path with no value in the state, or renders unusably."""

    code = "template"


class ActionSecretError(ActionError):
    """A secret reference of the action could not be read (missing parameter or secret, no permission)."""

    code = "secret"


class ActionFunctionError(ActionError):
    """The action's Lambda function raised (the invoke answered with ``FunctionError``)."""

    code = "function_error"


class ActionResponseTooLargeError(ActionResponseError):
    """The response exceeded the action's ``max_response_bytes``; reading stopped at the cap."""

    code = "oversized"


class ActionInvalidJSONError(ActionResponseError):
    """The response body is not JSON although the action maps a result from it."""

    code = "invalid_json"


class ActionMissingResultError(ActionResponseError):
    """A result key the action lists in ``required`` came out null."""

    code = "missing_result"


class ActionTooManyRedirectsError(ActionResponseError):
    """The external system redirected more times than allowed."""

    code = "too_many_redirects"


class TranscriptMissingError(TerminalError):
    """The transcript Transcribe says it wrote is not there, or not ours to read (S3 NoSuchKey, 404, AccessDenied)."""


class SecretUnreadableError(Exception):
    """The reference names no readable parameter or secret (missing, not allowed, an unknown kind): the admin's
    fix, never retried. `code` is AWS's error code (or the kind's problem). Raised by callhook.secrets_resolver;
    each caller names it in its own terms."""

    def __init__(self, reference: str, code: str, message: str) -> None:
        super().__init__(message)
        self.reference, self.code, self.message = reference, code, message
