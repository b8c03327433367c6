"""authenticate() hands on a request that holds no credential: whatever is stored or logged after it
(telephony.raw, a raw event's URL and headers) cannot leak a channel's token or a provider's shared secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import quote

import jwt
import pytest

from callhook.errors import UnauthorizedError
from callhook.models.api import WebhookRequest
from callhook.models.channel import Channel
from callhook.services.auth import authenticate as authenticate_with
from callhook.services.ingest import parse_request
from tests.support.fakes import FakeSecrets


def authenticate(channel: Channel, request: WebhookRequest) -> WebhookRequest:
    return authenticate_with(channel, request, FakeSecrets())  # these channels' secrets are inline

TOKEN = "tok-0123456789abcdef-secret"
BASE = "https://x.example/webhooks/ch-1"
VONAGE_SECRET = "vonage-signature-secret-0123456789abcdef"


def _channel(**item: Any) -> Channel:
    return Channel.model_validate({"channel_id": "ch-1", **item})


def _request(url: str, *, method: str = "GET", headers: dict[str, str] | None = None, body: bytes = b"",
             content_type: str | None = None) -> WebhookRequest:
    raw_query = url.split("?", 1)[1] if "?" in url else ""
    query = dict(pair.split("=", 1) for pair in raw_query.split("&") if "=" in pair)
    all_headers = {k.lower(): v for k, v in (headers or {}).items()}
    if content_type:
        all_headers["content-type"] = content_type
    return WebhookRequest(channel_id="ch-1", method=method, url=url, headers=all_headers, raw_query=raw_query,
                          query=query, body=body)


def _holds(request: WebhookRequest, secret: str) -> bool:
    dumped = request.model_dump_json() + request.body.decode("utf-8", "replace")
    return secret in dumped or quote(secret, safe="") in dumped


def test_our_token_leaves_query_url_and_headers() -> None:
    # Given a GET with the token in the query, and a POST with it in the header
    channel = _channel(webhook_token=TOKEN)
    get = _request(f"{BASE}?call_id=c1&token={TOKEN}&caller=%2B15550100")
    post = _request(BASE, method="POST", headers={"X-Webhook-Token": TOKEN}, body=b'{"call_id": "c1"}',
                    content_type="application/json")
    # When
    verified_get, verified_post = authenticate(channel, get), authenticate(channel, post)
    # Then: gone everywhere, and the other pairs keep their bytes
    assert not _holds(verified_get, TOKEN) and not _holds(verified_post, TOKEN)
    assert verified_get.raw_query == "call_id=c1&caller=%2B15550100"
    assert verified_get.url == f"{BASE}?call_id=c1&caller=%2B15550100"
    assert verified_get.query == {"call_id": "c1", "caller": "%2B15550100"}
    assert parse_request(verified_get) == {"call_id": "c1", "caller": "+15550100"}
    assert verified_post.body == post.body


def test_header_token_schemes_header_is_removed() -> None:
    # Given RingCentral's Verification-Token
    channel = _channel(signature={"scheme": "header-token", "secret": "vt-secret-1"})
    request = _request(BASE, method="POST", headers={"Verification-Token": "vt-secret-1"}, body=b"{}",
                       content_type="application/json")
    # When
    verified = authenticate(channel, request)
    # Then
    assert "verification-token" not in verified.headers
    assert not _holds(verified, "vt-secret-1")


def test_a_custom_header_token_header_is_removed() -> None:
    channel = _channel(signature={"scheme": "header-token", "secret": "hk-secret-1", "header": "X-Hook-Key"})
    verified = authenticate(channel, _request(BASE, method="POST", headers={"X-Hook-Key": "hk-secret-1"},
                                              body=b"{}", content_type="application/json"))
    assert not _holds(verified, "hk-secret-1")


@pytest.mark.parametrize("key", ["auth[application_token]", "auth%5Bapplication_token%5D"])
def test_body_token_sent_in_a_get_query_is_removed(key: str) -> None:
    # Given a Bitrix24-like GET whose query carries auth[application_token]
    channel = _channel(signature={"scheme": "body-token", "secret": "apptok-secret", "field": "auth.application_token"})
    request = _request(f"{BASE}?data%5BCALL_ID%5D=c1&{key}=apptok-secret&auth%5Bdomain%5D=x.bitrix24.ru")
    # When
    verified = authenticate(channel, request)
    # Then: not in the URL a raw event keeps, nor in what becomes telephony.raw
    assert not _holds(verified, "apptok-secret")
    assert parse_request(verified) == {"data": {"CALL_ID": "c1"}, "auth": {"domain": "x.bitrix24.ru"}}


def test_body_token_sent_in_a_post_body_is_removed() -> None:
    channel = _channel(signature={"scheme": "body-token", "secret": "aircall-tok"})
    request = _request(f"{BASE}", method="POST", body=json.dumps({"token": "aircall-tok", "data": {"id": 1}}).encode(),
                       content_type="application/json")
    verified = authenticate(channel, request)
    assert not _holds(verified, "aircall-tok")
    assert json.loads(verified.body) == {"data": {"id": 1}}


def test_vonage_authorization_is_removed() -> None:
    body = b'{"conversation_uuid": "CON-1"}'
    token = jwt.encode({"iat": int(time.time()), "payload_hash": hashlib.sha256(body).hexdigest()}, VONAGE_SECRET,
                       algorithm="HS256")
    channel = _channel(signature={"scheme": "vonage", "secret": VONAGE_SECRET})
    request = _request(BASE, method="POST", headers={"Authorization": f"Bearer {token}", "Cookie": "s=1"},
                       body=body, content_type="application/json")
    verified = authenticate(channel, request)
    assert "authorization" not in verified.headers and "cookie" not in verified.headers
    assert not _holds(verified, token)


def test_mango_key_and_sign_are_not_in_the_request_handed_on() -> None:
    document = '{"entry_id": "MjY0"}'
    sign = hashlib.sha256(("vpbx-key-1" + document + "salt1").encode()).hexdigest()
    body = f"vpbx_api_key=vpbx-key-1&sign={sign}&json={quote(document)}".encode()
    channel = _channel(signature={"scheme": "mango", "secret": "salt1"})
    verified = authenticate(channel, _request(BASE, method="POST", body=body,
                                              content_type="application/x-www-form-urlencoded"))
    assert not _holds(verified, "vpbx-key-1") and not _holds(verified, sign)


def test_a_request_without_credentials_to_strip_is_handed_on_unchanged() -> None:
    body = b'{"call_id": "c1"}'
    channel = _channel(signature={"scheme": "header-token", "secret": "vt-2"})
    request = _request(f"{BASE}?x=1", method="POST", headers={"Verification-Token": "vt-2"}, body=body,
                       content_type="application/json")
    verified = authenticate(channel, request)
    assert (verified.url, verified.raw_query, verified.body) == (request.url, "x=1", body)


# ---------------------------------------------------------------------------------------------- near misses
@pytest.mark.parametrize("presented", [
    TOKEN[:-1] + ("x" if TOKEN[-1] != "x" else "y"),  # only the last character differs
    TOKEN[:8] + "0" * (len(TOKEN) - 8),  # the first 8 bytes only
    TOKEN[:-1],  # a prefix
    TOKEN + "0",  # the token and one more character
    TOKEN.upper(),
], ids=["last-char", "first-8-bytes", "prefix", "longer", "other-case"])
def test_a_token_that_is_not_the_whole_token_is_refused(presented: str) -> None:
    channel = _channel(webhook_token=TOKEN)
    for request in (_request(f"{BASE}?token={presented}"),
                    _request(BASE, method="POST", headers={"X-Webhook-Token": presented})):
        with pytest.raises(UnauthorizedError, match="wrong token"):
            authenticate(channel, request)
    assert authenticate(channel, _request(f"{BASE}?token={TOKEN}")).query == {}


def test_the_token_is_compared_whole_and_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a recorder around the constant-time comparison
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    # When a wrong token of the same length is presented
    with pytest.raises(UnauthorizedError):
        authenticate(_channel(webhook_token=TOKEN), _request(f"{BASE}?token={TOKEN[:-1]}z"))
    # Then both whole tokens went through compare_digest (not `==`/`!=`, not a slice)
    assert compared == [((TOKEN[:-1] + "z").encode(), TOKEN.encode())]
