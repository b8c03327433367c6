"""Providers' URL checks (docs/webhook-api.md): answered per channel, before authentication, because they store nothing.

A provider checks a webhook URL before it sends calls to it: Zadarma calls `?zd_echo=X` and wants `X` back,
RingCentral posts an empty body with a `Validation-Token` header and wants it back as a response header. Neither
carries credentials we could check, so they are answered without authentication, and only when the request
carries nothing else: a request with a body or other parameters is a webhook and goes through authentication.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from callhook.models.api import HandshakeAnswer, WebhookRequest
from callhook.models.channel import Channel
from callhook.services.auth import TOKEN_QUERY

MAX_ECHO_CHARS = 256  # providers send a short random value; anything longer is not a URL check


def handshake_answer(channel: Channel, request: WebhookRequest) -> HandshakeAnswer | None:
    """The answer to the channel's provider URL check, or None when the request is not one (process it as usual)."""
    handshake = channel.advanced_config.handshake
    if handshake is None or request.body.strip():
        return None
    query = [(name, value) for name, value in parse_qsl(request.raw_query, keep_blank_values=True)
             if name != TOKEN_QUERY]
    if handshake.kind == "echo_query":
        if len(query) != 1 or query[0][0] != handshake.param or not _echoable(query[0][1]):
            return None
        return HandshakeAnswer(body=query[0][1], provider_check=f"echo_query {handshake.param}")
    value = request.headers.get(handshake.param.lower())
    if query or value is None or not _echoable(value):
        return None
    return HandshakeAnswer(headers={handshake.param: value}, provider_check=f"echo_header {handshake.param}")


def _echoable(value: str) -> bool:
    """Short printable text only: what we echo must not become a header injection or a reflected page."""
    return 0 < len(value) <= MAX_ECHO_CHARS and value.isprintable() and "<" not in value
