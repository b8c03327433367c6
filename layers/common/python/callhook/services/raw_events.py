"""Requests kept without their credentials, and the raw events made of them: what ingest stores and what the
processing of held and spooled requests reads back. Pure (no AWS), shared by services/ingest.py and
services/kept.py."""

from __future__ import annotations

import base64
import uuid
from urllib.parse import parse_qsl

from callhook.clock import utc_now
from callhook.errors import WebhookRejectedError
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
