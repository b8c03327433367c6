"""Signature schemes (CONTRACT §2 `signature.scheme`), verified over the raw body before parsing."""

from __future__ import annotations

import base64
import hashlib
import hmac

from callhook.errors import UnauthorizedError
from callhook.models.api import WebhookRequest
from callhook.models.channel import Channel


def verify_signature(channel: Channel, request: WebhookRequest) -> None:
    """Raises UnauthorizedError unless the request carries a valid signature for the channel's scheme."""
    sig = channel.signature
    assert sig is not None
    verifier = _VERIFIERS.get(sig.scheme)
    if verifier is None:
        raise UnauthorizedError(f"channel signature scheme {sig.scheme!r} is not supported")
    verifier(channel, request)


def _hmac_sha256(channel: Channel, request: WebhookRequest) -> None:
    """Generic HMAC-SHA256 over the raw body: `header`, `encoding` (hex|base64) and an optional `prefix`."""
    sig = channel.signature
    assert sig is not None and sig.secret
    extra = sig.model_extra or {}
    header = str(extra.get("header", "x-signature")).lower()
    prefix = str(extra.get("prefix", ""))
    presented = request.headers.get(header)
    if not presented:
        raise UnauthorizedError(f"missing signature header {header}")
    digest = hmac.new(sig.secret.encode(), request.body, hashlib.sha256).digest()
    expected = base64.b64encode(digest).decode() if extra.get("encoding") == "base64" else digest.hex()
    if not hmac.compare_digest(presented.strip().encode(), (prefix + expected).encode()):
        raise UnauthorizedError(f"signature in {header} does not match the body")


_VERIFIERS = {"hmac-sha256": _hmac_sha256}
