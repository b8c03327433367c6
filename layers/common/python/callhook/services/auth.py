"""Webhook authentication: the channel's token, or its signature scheme, checked before the body is parsed."""

from __future__ import annotations

import hmac

from callhook.errors import UnauthorizedError
from callhook.models.api import WebhookRequest
from callhook.models.channel import Channel

TOKEN_HEADER = "x-webhook-token"
TOKEN_QUERY = "token"


def presented_token(request: WebhookRequest) -> str | None:
    return request.headers.get(TOKEN_HEADER) or request.query.get(TOKEN_QUERY)


def authenticate(channel: Channel, request: WebhookRequest) -> None:
    """Accept the request if its token or signature checks out.

    A channel with a signature scheme requires the signature (a token alone would let anyone who saw the URL in a
    log forge calls); a channel with only a token requires the token, compared in constant time.

    Raises:
        UnauthorizedError: missing or wrong credentials; the answer says which, never the expected value.
    """
    if channel.signature is not None:
        from callhook.services.signatures import verify_signature  # noqa: PLC0415 (only channels that sign need it)

        verify_signature(channel, request)
        return
    token = presented_token(request)
    if not token:
        raise UnauthorizedError(f"missing credentials: send the channel's token as ?{TOKEN_QUERY}= or {TOKEN_HEADER}")
    if not channel.webhook_token or not hmac.compare_digest(token.encode(), channel.webhook_token.encode()):
        raise UnauthorizedError("wrong token for this channel")
