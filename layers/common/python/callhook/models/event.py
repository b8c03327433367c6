"""Raw events: authenticated payloads kept because they could not (yet) become part of a dialog.

Built on first use (`defer_build`): ingest imports this module, but an accepted webhook (the usual one) keeps no raw
event and spools nothing, so its cold start builds none of them; the first rejected, held or spooled request does.
"""

from __future__ import annotations

import base64
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SPOOL_PREFIX = "spool/"  # spooled requests in the recordings bucket, oldest key first
SET_ASIDE_PREFIX = "set-aside/"  # spooled objects that could not be processed nor kept as a raw event


class RawEventKind(StrEnum):
    REJECTED = "rejected"  # answered 403/422: visible and replayable from the CLI
    PENDING_UPDATE = "pending_update"  # an update_when event that arrived before its call's first event
    APPLIED_UPDATE = "applied_update"
    REPLAYED = "replayed"
    HELD = "held"  # authenticated while the channel item was invalid: becomes a dialog once the item is valid
    RELEASED = "released"  # a held event that has since been processed (dialog_id says which dialog it became)
    SET_ASIDE = "set_aside"  # a kept request that failed for a reason of its own: `reason`, `message`, replayable


class StoredRequest(BaseModel):
    """The request as received, minus credentials (token query parameter and header are dropped)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    method: str
    url: str
    headers: dict[str, str]
    raw_query: str = ""
    body_b64: str = ""

    @property
    def body(self) -> bytes:
        return base64.b64decode(self.body_b64)


class RawEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    event_id: str
    channel_id: str
    received_at: str
    kind: RawEventKind
    reason: str | None = None  # a stable code: channel_inactive, missing_call_id, ...
    message: str | None = None
    status_code: int | None = None
    dialog_id: str | None = None
    held_channel: str | None = None  # the by_held index key: set while the event is held, removed on release
    set_aside_from: str | None = None  # where a set-aside request waited: spool, held, pending_update
    update_fields: dict[str, Any] = Field(default_factory=dict)
    request: StoredRequest
    expires_at: int | None = None  # epoch seconds: DynamoDB's TTL removes it then (the channel's retention_days)


class SpooledRequest(BaseModel):
    """An authenticated request kept in the spool (an S3 object) because the tables could not take it.

    The spool shares no failure with DynamoDB; the reconciler processes each spooled request exactly as ingest would
    have at `received_at` (same dialog id), then deletes it.
    """

    model_config = ConfigDict(extra="ignore", defer_build=True)

    event_id: str
    channel_id: str
    received_at: str
    reason: str  # why it was spooled: dialog_store_unavailable, event_store_unavailable
    message: str | None = None
    request: StoredRequest
