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


def authenticate(channel: Channel, request: WebhookRequest) -> WebhookRequest:
    """Accept the request if its token or signature checks out, and return the request to process.

    A channel with a signature scheme requires the signature (a token alone would let anyone who saw the URL in a
    log forge calls); a channel with only a token requires the token, compared in constant time. The request
    returned is the one received, except when the scheme hands back the body to parse instead (a Dialpad JWT's
    claims; a body without the token or sign it carried): then that JSON replaces the body.

    Raises:
        UnauthorizedError: missing or wrong credentials; the answer says which, never the expected value.
        ChannelMisconfiguredError, DependencyUnavailableError: the signature secret cannot be read (503).
    """
    if channel.signature is not None:
        from callhook.services.signatures import verify_signature

        replacement = verify_signature(channel, request)
        if replacement is None:
            return request
        headers = {**request.headers, "content-type": "application/json"}
        return request.model_copy(update={"body": replacement, "headers": headers})
    token = presented_token(request)
    if not token:
        raise UnauthorizedError(f"missing credentials: send the channel's token as ?{TOKEN_QUERY}= or {TOKEN_HEADER}")
    if not channel.webhook_token or not hmac.compare_digest(token.encode(), channel.webhook_token.encode()):
        raise UnauthorizedError("wrong token for this channel")
    return request
