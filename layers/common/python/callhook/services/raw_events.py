"""Requests kept without their credentials, and the raw events made of them: what ingest stores and what the
processing of held and spooled requests reads back. Pure (no AWS), shared by services/ingest.py and
services/kept.py."""

from __future__ import annotations

import base64
import uuid
from urllib.parse import parse_qsl

from callhook.clock import utc_now
from callhook.errors import (
    DependencyUnavailableError,
    DialogStoreUnavailableError,
    ItemRefusedError,
    WebhookRejectedError,
)
from callhook.models.api import WebhookRequest
from callhook.models.event import RawEvent, RawEventKind, StoredRequest


def new_event_id() -> str:
    return "e-" + uuid.uuid4().hex


def stored_request(request: WebhookRequest) -> StoredRequest:
    """What we keep of a request: the request as authenticated, which `authenticate` has stripped of every
    credential (services/auth.strip_credentials), so nothing secret reaches an item, the spool or a log."""
    return StoredRequest(method=request.method, url=request.url, headers=request.headers,
                         raw_query=request.raw_query, body_b64=base64.b64encode(request.body).decode())


def webhook_request_from(channel_id: str, stored: StoredRequest) -> WebhookRequest:
    """A kept request as ingest sees requests again (it was kept without its credentials)."""
    return WebhookRequest(channel_id=channel_id, method=stored.method, url=stored.url, headers=stored.headers,
                          raw_query=stored.raw_query, query=dict(parse_qsl(stored.raw_query)), body=stored.body)


def rejected_event(request: WebhookRequest, exc: WebhookRejectedError, *, received_at: str | None = None,
                   event_id: str | None = None, expires: int | None = None) -> RawEvent:
    return RawEvent(event_id=event_id or new_event_id(), channel_id=request.channel_id,
                    received_at=received_at or utc_now(),
                    kind=RawEventKind.REJECTED, reason=exc.reason, message=exc.message,
                    status_code=exc.status_code, request=stored_request(request), expires_at=expires)


# The longest reason kept on a set-aside event: enough for an exception's message, never a whole body.
MAX_REASON_CHARS = 500


def store_failed(exc: BaseException) -> bool:
    """A store itself failed (throttled, unreachable, denied): the request waits and the pass stops. A refusal of
    this one item (ItemRefusedError anywhere in the chain), or any other error, is the request's own."""
    if not isinstance(exc, DependencyUnavailableError | DialogStoreUnavailableError):
        return False
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ItemRefusedError):
            return False
        cause = cause.__cause__
    return True


def set_aside_reason(exc: BaseException) -> tuple[str, str]:
    """A stable code and a short message (the exception's class and text, cut): what the admin reads."""
    refused = exc
    while refused is not None and not isinstance(refused, ItemRefusedError):
        refused = refused.__cause__  # type: ignore[assignment]
    code = "item_refused" if refused is not None else "processing_failed"
    message = f"{type(exc).__name__}: {exc}"
    return code, message if len(message) <= MAX_REASON_CHARS else message[:MAX_REASON_CHARS] + "…"
