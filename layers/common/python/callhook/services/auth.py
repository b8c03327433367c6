"""Webhook authentication: the channel's token, or its signature scheme, checked before the body is parsed.

What :func:`authenticate` returns holds no credential: whatever comes after it (the dialog's `telephony.raw`, a
stored raw event, a log line) can keep the request as it is. The signature itself is computed first, over the
request as received.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote_plus

from callhook.errors import UnauthorizedError
from callhook.models.api import WebhookRequest
from callhook.models.channel import Channel

if TYPE_CHECKING:
    from callhook.ports import Secrets

TOKEN_HEADER = "x-webhook-token"
TOKEN_QUERY = "token"
# Headers that carry a credential whatever the channel: ours, HTTP authentication (Vonage's signed JWT) and cookies.
CREDENTIAL_HEADERS = frozenset({TOKEN_HEADER, "authorization", "proxy-authorization", "cookie"})


def presented_token(request: WebhookRequest) -> str | None:
    return request.headers.get(TOKEN_HEADER) or request.query.get(TOKEN_QUERY)


def authenticate(channel: Channel, request: WebhookRequest, secrets: Secrets) -> WebhookRequest:
    """Accept the request if its token or signature checks out, and return it stripped of every credential.

    A channel with a signature scheme requires the signature (a token alone would let anyone who saw the URL in a
    log forge calls); a channel with only a token requires the token, compared in constant time. When the scheme
    hands back the body to parse instead (a Dialpad JWT's claims; a body without the token or sign it carried),
    that JSON replaces the body. Then :func:`strip_credentials` removes our token, the scheme's token header or
    query field and the Authorization header, from headers, query and URL alike.

    Raises:
        UnauthorizedError: missing or wrong credentials; the answer says which, never the expected value.
        ChannelMisconfiguredError, DependencyUnavailableError: the signature secret cannot be read (503).
    """
    if channel.signature is not None:
        # Loaded for the first signed channel only: the schemes' libraries (PyJWT, cryptography, standardwebhooks)
        # are not on a token channel's path.
        from callhook.services.signatures import verify_signature

        replacement = verify_signature(channel, request, secrets)
        if replacement is not None:
            headers = {**request.headers, "content-type": "application/json"}
            request = request.model_copy(update={"body": replacement, "headers": headers})
        return strip_credentials(channel, request)
    token = presented_token(request)
    if not token:
        raise UnauthorizedError(f"missing credentials: send the channel's token as ?{TOKEN_QUERY}= or {TOKEN_HEADER}")
    if not channel.webhook_token or not hmac.compare_digest(token.encode(), channel.webhook_token.encode()):
        raise UnauthorizedError("wrong token for this channel")
    return strip_credentials(channel, request)


def strip_credentials(channel: Channel, request: WebhookRequest) -> WebhookRequest:
    """The request without any credential the channel's authentication could have used.

    Headers: ours (`X-Webhook-Token`), Authorization, Proxy-Authorization, Cookie, and the `header-token` scheme's
    header. Query (`query`, `raw_query` and the query of `url`): our `token`, and the `body-token` scheme's field
    when a GET carried it there (`auth.application_token` is sent as `auth[application_token]`). A body-token or
    Mango body was already replaced by one without its credentials. The other query pairs keep their bytes.
    """
    headers_out = set(CREDENTIAL_HEADERS)
    query_out = {TOKEN_QUERY}
    sig = channel.signature
    options = dict(sig.model_extra or {}) if sig is not None else {}
    if sig is not None and sig.scheme == "header-token":
        headers_out.add(str(options.get("header", "verification-token")).lower())
    if sig is not None and sig.scheme == "body-token":
        query_out.add(str(options.get("field", "token")))
    headers = {name: value for name, value in request.headers.items() if name.lower() not in headers_out}
    kept = [part for part in request.raw_query.split("&") if part and _query_name(part) not in query_out]
    raw_query = "&".join(kept)
    if raw_query == request.raw_query and len(headers) == len(request.headers):
        return request
    query = {name: value for name, value in request.query.items() if _dotted(unquote_plus(name)) not in query_out}
    base, _, _ = request.url.partition("?")
    url = base + (f"?{raw_query}" if raw_query else "")
    return request.model_copy(update={"headers": headers, "raw_query": raw_query, "query": query, "url": url})


def _query_name(part: str) -> str:
    """The dotted field path of one `name=value` query segment (`auth%5Bapplication_token%5D=x` -> `auth.app...`)."""
    pairs = parse_qsl(part, keep_blank_values=True)
    return _dotted(pairs[0][0]) if pairs else part.split("=", 1)[0]


def _dotted(name: str) -> str:
    """`auth[application_token]` -> `auth.application_token`: the path a form key nests into (docs/items.md)."""
    if "[" not in name or not name.endswith("]"):
        return name
    head, _, rest = name.partition("[")
    return ".".join([head, *rest[:-1].split("][")])
