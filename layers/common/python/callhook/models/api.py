"""HTTP boundary of the webhook API: the request as the service sees it and the answer it gives."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


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


class WebhookAnswer(BaseModel):
    """The JSON answered with 200 (CONTRACT §2)."""

    status: Literal["accepted", "duplicate", "ignored"]
    dialog_id: str | None = None
    reason: str | None = None
