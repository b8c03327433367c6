"""HTTP boundary of the webhook API: the request as the service sees it and the answer it gives.

WebhookError and HandshakeAnswer build on first use (`defer_build`): an accepted webhook answers neither, so the cold
start of one that is accepted does not build them.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class WebhookRequest(BaseModel):
    """An HTTP request to /webhooks/{channel_id}, independent of API Gateway's event shape."""

    model_config = ConfigDict(frozen=True)

    channel_id: str
    method: str
    url: str  # as the provider called it (scheme, host, path, query); signatures are computed over it
    headers: dict[str, str]  # lower-cased names
    raw_query: str = ""
    query: dict[str, str] = {}
    body: bytes = b""
    source_ip: str | None = None

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


SPOOLED_REASON = "spooled"


class WebhookAnswer(BaseModel):
    """The JSON answered with 200 (docs/webhook-api.md).

    `overrides` is the channel's `advanced_config.answer` (or its preset's): keys merged over this JSON for
    providers that stop sending unless they read their own success body (Binotel `{"status": "success"}`, Sipuni
    `{"success": true}`). It is not part of the model's own dump; :meth:`body_json` is what goes on the wire.
    """

    status: Literal["accepted", "duplicate", "ignored", "held"]
    dialog_id: str | None = None
    reason: str | None = None
    event_id: str | None = None  # held or spooled: the kept request's id (`callhook events list` shows it)
    overrides: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @property
    def status_code(self) -> int:
        """202 when the request is kept but not yet a dialog (held, or spooled for the reconciler), else 200."""
        return 202 if self.status == "held" or self.reason == SPOOLED_REASON else 200

    def body_json(self) -> str:
        return json.dumps({**self.model_dump(mode="json", exclude_none=True), **self.overrides})


class WebhookError(BaseModel):
    """The JSON answered with every error status: the provider's log shows why, ops count `reason`.

    `rejected` is the request's fault (4xx, plus 503 `channel_misconfigured`: the admin's configuration, retried
    after the fix); `error` is ours (5xx), so that the provider retries. `reason` is a stable code, `message` says
    what to change and never carries a stack trace.
    """

    model_config = ConfigDict(defer_build=True)

    status: Literal["rejected", "error"]
    reason: str
    message: str


class HandshakeAnswer(BaseModel):
    """The answer to a provider's URL check (docs/webhook-api.md), sent with 200 exactly as built here.

    A handshake carries no call data, stores nothing and is answered before authentication: Zadarma's
    `?zd_echo=X` gets `X` as text/plain; RingCentral's `Validation-Token` header comes back as a response header.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    body: str = ""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = Field(default_factory=dict)
    provider_check: str  # what was answered (e.g. "echo_query zd_echo"), for logs and metrics
