"""Signature schemes against the providers' published test vectors, and each scheme's refusals (pure: no AWS)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
import standardwebhooks.webhooks as standard_webhooks_module
from pydantic import ValidationError

from callhook.errors import ChannelMisconfiguredError, UnauthorizedError
from callhook.models.api import WebhookRequest
from callhook.models.channel import SIGNATURE_SCHEMES, Channel
from callhook.services import signatures
from callhook.services.auth import authenticate as authenticate_with
from callhook.services.signatures import plivo_v3_signature, twilio_signature, zadarma_signature
from callhook.services.signatures import verify_signature as verify_with
from tests.support.fakes import FakeSecrets
from tests.support.providers import TelnyxSigner

# The secrets port as Ingest hands it in: these channels hold their secrets inline, so nothing is read from it.
NO_SECRETS = FakeSecrets()


def verify_signature(channel: Channel, request: WebhookRequest, *, now: float | None = None) -> bytes | None:
    return verify_with(channel, request, NO_SECRETS, now=now)


def authenticate(channel: Channel, request: WebhookRequest) -> WebhookRequest:
    return authenticate_with(channel, request, NO_SECRETS)


FORM = "application/x-www-form-urlencoded"

# Twilio's published example (docs "Webhooks security", and twilio-python's tests/unit/test_request_validator.py)
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_TOKEN = "12345"
TWILIO_DOCS_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
                      "From": "+12349013030", "To": "+18005551212"}
TWILIO_SDK_PARAMS = {"CallSid": "CA1234567890ABCDE", "Digits": "1234", "From": "+14158675309", "To": "+18005551212",
                     "Caller": "+14158675309"}
TWILIO_JSON_BODY = '{"property": "value", "boolean": true}'
TWILIO_BODY_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"

# Standard Webhooks' reference vector (the libraries' TestWebhookSign: Go, C#, ...)
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TIMESTAMP = 1614265330
SW_PAYLOAD = b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
SW_WRONG_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="

VONAGE_SECRET = "vonage-signature-secret-0123456789abcdef"
DIALPAD_SECRET = "dialpad-webhook-secret-0123456789abcdef"


def _channel(scheme: str, secret: str, **options: Any) -> Channel:
    return Channel.model_validate({"channel_id": "ch-1", "signature": {"scheme": scheme, "secret": secret, **options}})


def _request(url: str, body: bytes = b"", headers: dict[str, str] | None = None, method: str = "POST",
             content_type: str | None = FORM) -> WebhookRequest:
    all_headers = {k.lower(): v for k, v in (headers or {}).items()}
    if content_type:
        all_headers.setdefault("content-type", content_type)
    raw_query = url.split("?", 1)[1] if "?" in url else ""
    return WebhookRequest(channel_id="ch-1", method=method, url=url, headers=all_headers, raw_query=raw_query,
                          body=body)


def _twilio_request(url: str, params: dict[str, str], signature: str) -> WebhookRequest:
    return _request(url, urlencode(params).encode(), {"X-Twilio-Signature": signature})


# ------------------------------------------------------------------------------------------------------ Twilio


@pytest.mark.parametrize(("params", "expected"), [
    (TWILIO_DOCS_PARAMS, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
    (TWILIO_SDK_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
])
def test_twilio_signature_matches_the_published_vectors(params: dict[str, str], expected: str) -> None:
    # When
    signature = twilio_signature(TWILIO_TOKEN, TWILIO_URL, params.items())
    # Then
    assert signature == expected


def test_twilio_signature_sorts_values_and_counts_duplicates_once() -> None:
    # Given twilio-python's duplicate-parameter vector
    params = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")]
    # Then
    assert twilio_signature(TWILIO_TOKEN, TWILIO_URL, params) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def test_verify_twilio_accepts_the_published_form_request() -> None:
    # Given the published request as it reaches callhook
    channel = _channel("twilio", TWILIO_TOKEN)
    request = _twilio_request(TWILIO_URL, TWILIO_DOCS_PARAMS, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    # When / Then: no error, no replacement body
    assert verify_signature(channel, request) is None


@pytest.mark.parametrize(("url", "signature"), [
    (TWILIO_URL.replace(".com", ".com:1234"), "RSOYDt4T1cUTdK1PDd93/VVr8B8="),  # port removed (https)
    (TWILIO_URL.replace(".com", ".com:1234").replace("https", "http"), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
    (TWILIO_URL, "kvajT1Ptam85bY51eRf/AJRuM3w="),  # signed with :443
    (TWILIO_URL.replace("https", "http"), "0ZXoZLH/DfblKGATFgpif+LLRf4="),  # signed with :80
])
def test_verify_twilio_tries_the_url_with_and_without_its_port(url: str, signature: str) -> None:
    # Given twilio-python's port vectors
    request = _twilio_request(url, TWILIO_SDK_PARAMS, signature)
    # Then
    assert verify_signature(_channel("twilio", TWILIO_TOKEN), request) is None


def test_verify_twilio_json_body_checks_body_sha256_then_signs_the_url_only() -> None:
    # Given twilio-python's JSON vector: bodySHA256 in the URL, the URL alone signed
    url = f"{TWILIO_URL}&bodySHA256={TWILIO_BODY_HASH}"
    good = _request(url, TWILIO_JSON_BODY.encode(), {"X-Twilio-Signature": "a9nBmqA0ju/hNViExpshrM61xv4="},
                    content_type="application/json")
    tampered = good.model_copy(update={"body": b'{"property": "other", "boolean": true}'})
    # When / Then
    assert verify_signature(_channel("twilio", TWILIO_TOKEN), good) is None
    with pytest.raises(UnauthorizedError, match="bodySHA256"):
        verify_signature(_channel("twilio", TWILIO_TOKEN), tampered)


@pytest.mark.parametrize("change", ["param", "url", "token", "missing"])
def test_verify_twilio_refuses_anything_changed(change: str) -> None:
    # Given the published request with one thing changed
    params, url, token = dict(TWILIO_DOCS_PARAMS), TWILIO_URL, TWILIO_TOKEN
    headers = {"X-Twilio-Signature": "0/KCTR6DLpKmkAf8muzZqo1nDgQ="}
    if change == "param":
        params["Digits"] = "9999"
    elif change == "url":
        url = TWILIO_URL.replace("myapp", "other")
    elif change == "token":
        token = "54321"
    else:
        headers = {}
    request = _request(url, urlencode(params).encode(), headers)
    # Then
    with pytest.raises(UnauthorizedError, match=r"(?i)x-twilio-signature"):
        verify_signature(_channel("twilio", token), request)


def test_twilio_uses_the_channel_public_url_with_the_query_received() -> None:
    # Given a proxy rewrote host and path; the admin set public_url to what was entered in Twilio
    channel = Channel.model_validate({"channel_id": "ch-1", "public_url": "https://mycompany.com/myapp.php",
                                      "signature": {"scheme": "twilio", "secret": TWILIO_TOKEN}})
    request = _twilio_request("http://10.0.0.5:8080/internal/ch-1?foo=1&bar=2", TWILIO_DOCS_PARAMS,
                              "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    # Then
    assert verify_signature(channel, request) is None


def test_twilio_error_never_shows_our_token() -> None:
    # Given a request whose URL carries the channel token
    request = _twilio_request("https://x.example/webhooks/ch-1?token=s3cr3t-token", {"a": "b"}, "bad=")
    # When
    with pytest.raises(UnauthorizedError) as caught:
        verify_signature(_channel("twilio", TWILIO_TOKEN), request)
    # Then
    assert "s3cr3t-token" not in caught.value.message
    assert "public_url" in caught.value.message


# ------------------------------------------------------------------------------------------ Standard Webhooks


@pytest.fixture
def sw_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference vector is from 2021: run the library's clock at its timestamp (it allows 5 minutes)."""

    class _Frozen(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:
            return datetime.fromtimestamp(SW_TIMESTAMP + 10, tz=UTC)

    monkeypatch.setattr(standard_webhooks_module, "datetime", _Frozen)


def _sw_request(signature: str, timestamp: int = SW_TIMESTAMP, body: bytes = SW_PAYLOAD) -> WebhookRequest:
    return _request("https://x.example/webhooks/ch-1", body, {
        "webhook-id": SW_ID, "webhook-timestamp": str(timestamp), "webhook-signature": signature},
        content_type="application/json")


@pytest.mark.usefixtures("sw_clock")
def test_standard_webhooks_reference_vector_passes() -> None:
    assert verify_signature(_channel("standard-webhooks", SW_SECRET), _sw_request(SW_SIGNATURE)) is None


@pytest.mark.usefixtures("sw_clock")
def test_standard_webhooks_accepts_any_matching_signature_for_key_rotation() -> None:
    # Given the old key's signature first, then a v1a one we do not check, then the current key's
    header = f"v1,{base64.b64encode(b'x' * 32).decode()} v1a,{base64.b64encode(b'y' * 64).decode()} {SW_SIGNATURE}"
    # Then
    assert verify_signature(_channel("standard-webhooks", SW_SECRET), _sw_request(header)) is None


@pytest.mark.usefixtures("sw_clock")
@pytest.mark.parametrize(("signature", "timestamp", "body", "reason"), [
    (SW_WRONG_SIGNATURE, SW_TIMESTAMP, SW_PAYLOAD, "No matching signature"),
    (SW_SIGNATURE, SW_TIMESTAMP, b'{"test": 2432232315}', "No matching signature"),
    (SW_SIGNATURE, SW_TIMESTAMP - 600, SW_PAYLOAD, "too old"),
    (SW_SIGNATURE, SW_TIMESTAMP + 600, SW_PAYLOAD, "too new"),
    ("v1", SW_TIMESTAMP, SW_PAYLOAD, "malformed"),
])
def test_standard_webhooks_refuses_wrong_signatures_and_stale_timestamps(signature: str, timestamp: int,
                                                                          body: bytes, reason: str) -> None:
    with pytest.raises(UnauthorizedError, match=reason):
        verify_signature(_channel("standard-webhooks", SW_SECRET), _sw_request(signature, timestamp, body))


@pytest.mark.parametrize(("secret", "hint"), [
    ("v1,whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "looks like a signature"),
    ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "starts with 'whsec_'"),
    ("whsec_not base64!", "not valid base64"),
    ("whpk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "Ed25519"),
])
def test_standard_webhooks_secret_in_the_wrong_form_fails_channel_validation(secret: str, hint: str) -> None:
    with pytest.raises(ValidationError, match=hint):
        _channel("standard-webhooks", secret)


def test_standard_webhooks_secret_in_the_wrong_form_from_ssm_fails_at_verification() -> None:
    # Given a channel whose secret is an SSM reference holding a pasted signature
    secrets = FakeSecrets(**{"ssm:/callhook/sw/secret": "v1,whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
    channel = _channel("standard-webhooks", "ssm:/callhook/sw/secret")
    # Then the answer names the admin's problem (503), not the provider's (401)
    with pytest.raises(ChannelMisconfiguredError, match="looks like a signature"):
        verify_with(channel, _sw_request(SW_SIGNATURE), secrets)


def test_a_signature_secret_that_cannot_be_read_is_the_admins_problem_naming_the_reference() -> None:
    channel = _channel("standard-webhooks", "ssm:/callhook/sw/missing")
    with pytest.raises(ChannelMisconfiguredError, match="ssm:/callhook/sw/missing could not be read"):
        verify_with(channel, _sw_request(SW_SIGNATURE), FakeSecrets())


# -------------------------------------------------------------------------------------------------- Telnyx


def test_telnyx_ed25519_over_timestamp_and_body() -> None:
    # Given a key pair standing in for the account and a signed event
    signer = TelnyxSigner()
    body = b'{"data": {"event_type": "call.hangup"}}'
    channel = _channel("telnyx", signer.public_key)
    now = int(time.time())
    good = _request("https://x.example/w", body, signer.headers(body, now), content_type="application/json")
    # When / Then
    assert verify_signature(channel, good, now=now + 5) is None
    with pytest.raises(UnauthorizedError, match="does not match"):
        verify_signature(channel, good.model_copy(update={"body": body + b" "}), now=now)
    with pytest.raises(UnauthorizedError, match="replays are refused"):
        verify_signature(channel, good, now=now + 301)
    with pytest.raises(UnauthorizedError, match="does not match"):
        verify_signature(_channel("telnyx", TelnyxSigner().public_key), good, now=now)


def test_telnyx_public_key_that_is_not_a_key_is_the_admins_problem() -> None:
    signer = TelnyxSigner()
    request = _request("https://x.example/w", b"{}", signer.headers(b"{}"), content_type="application/json")
    with pytest.raises(ChannelMisconfiguredError, match="public key"):
        verify_signature(_channel("telnyx", "not-a-key"), request)


# --------------------------------------------------------------------------------------------------- Plivo


def test_plivo_v3_signature_is_built_as_plivos_sdks_build_it() -> None:
    # Given Plivo's construction written out by hand for a POST with a query and two parameters
    url, nonce, token = "https://example.com/answer?b=2&a=1", "12345", "my_auth_token"
    string = "https://example.com/answer?a=1&b=2.CallUUIDabcFrom14158675309.12345"
    expected = base64.b64encode(hmac.new(token.encode(), string.encode(), hashlib.sha256).digest()).decode()
    # When
    computed = plivo_v3_signature(token, url, nonce, "POST", [("From", "14158675309"), ("CallUUID", "abc")])
    # Then
    assert computed == expected


def test_plivo_v3_get_signs_the_sorted_query_only() -> None:
    string = "https://example.com/answer?a=1&b=2.777"
    expected = base64.b64encode(hmac.new(b"t", string.encode(), hashlib.sha256).digest()).decode()
    assert plivo_v3_signature("t", "https://example.com/answer?b=2&a=1", "777", "GET", []) == expected


def test_verify_plivo_accepts_any_of_the_listed_signatures_and_refuses_a_changed_body() -> None:
    # Given a hangup callback signed by the account (the header may list several signatures)
    params = [("CallUUID", "abc"), ("From", "14158675309")]
    url = "https://example.com/webhooks/ch-1"
    signature = plivo_v3_signature("tok", url, "n1", "POST", params)
    headers = {"X-Plivo-Signature-V3": f"bm90LXRoaXMtb25l,{signature}", "X-Plivo-Signature-V3-Nonce": "n1"}
    request = _request(url, urlencode(params).encode(), headers)
    # Then
    assert verify_signature(_channel("plivo", "tok"), request) is None
    with pytest.raises(UnauthorizedError, match="X-Plivo-Signature-V3"):
        verify_signature(_channel("plivo", "tok"), request.model_copy(update={"body": b"CallUUID=abc&From=1"}))


# ---------------------------------------------------------------------------------------- Vonage and Dialpad


def test_vonage_jwt_with_payload_hash() -> None:
    # Given a signed event webhook
    body = b'{"status": "completed", "conversation_uuid": "CON-1"}'
    token = jwt.encode({"iat": int(time.time()), "payload_hash": hashlib.sha256(body).hexdigest()}, VONAGE_SECRET,
                       algorithm="HS256")
    request = _request("https://x.example/w", body, {"Authorization": f"Bearer {token}"},
                       content_type="application/json")
    channel = _channel("vonage", VONAGE_SECRET)
    # Then
    assert verify_signature(channel, request) is None
    with pytest.raises(UnauthorizedError, match="payload_hash"):
        verify_signature(channel, request.model_copy(update={"body": body.replace(b"CON-1", b"CON-2")}))
    with pytest.raises(UnauthorizedError, match="Vonage JWT rejected"):
        verify_signature(_channel("vonage", "other"), request)
    unhashed = jwt.encode({"iat": int(time.time())}, VONAGE_SECRET, algorithm="HS256")
    with pytest.raises(UnauthorizedError, match="no payload_hash"):
        verify_signature(channel, request.model_copy(update={"headers": {"authorization": f"Bearer {unhashed}"}}))


def test_dialpad_jwt_body_is_verified_and_decoded_into_the_json_to_parse() -> None:
    # Given an event Dialpad sent as a JWT signed with the webhook's secret
    event = {"call_id": 6342343299702784, "state": "hangup", "direction": "inbound"}
    request = _request("https://x.example/w", jwt.encode(event, DIALPAD_SECRET, algorithm="HS256").encode(),
                       content_type="application/jwt")
    # When
    replacement = verify_signature(_channel("dialpad", DIALPAD_SECRET), request)
    # Then
    assert replacement is not None
    assert json.loads(replacement) == event
    with pytest.raises(UnauthorizedError, match="Dialpad JWT rejected"):
        verify_signature(_channel("dialpad", "wrong"), request)
    with pytest.raises(UnauthorizedError, match="plain JSON"):
        verify_signature(_channel("dialpad", DIALPAD_SECRET), request.model_copy(update={"body": b'{"a": 1}'}))


def test_authenticate_hands_on_the_decoded_body_as_json() -> None:
    event = {"call_id": 1, "state": "hangup"}
    request = _request("https://x.example/w", jwt.encode(event, DIALPAD_SECRET, algorithm="HS256").encode(),
                       content_type="application/jwt")
    verified = authenticate(_channel("dialpad", DIALPAD_SECRET), request)
    assert json.loads(verified.body) == event
    assert verified.content_type == "application/json"


# ------------------------------------------------------------------------------------------ Zadarma and Mango


def test_zadarma_signature_is_base64_of_the_hex_hmac_of_the_events_fields() -> None:
    # Given a NOTIFY_OUT_END, whose signed string is internal + destination + call_start
    fields = {"event": "NOTIFY_OUT_END", "internal": "100", "destination": "51930555309",
              "call_start": "2026-10-05 09:15:07", "disposition": "answered"}
    hex_digest = hmac.new(b"s3cr3t", b"100519305553092026-10-05 09:15:07", hashlib.sha1).hexdigest()
    # Then
    assert zadarma_signature("s3cr3t", fields) == base64.b64encode(hex_digest.encode()).decode()
    assert zadarma_signature("s3cr3t", {"event": "NOTIFY_SOMETHING_NEW"}) is None


def test_verify_zadarma_refuses_an_event_without_a_rule_and_a_wrong_signature() -> None:
    channel = _channel("zadarma", "s3cr3t")
    fields = {"event": "NOTIFY_RECORD", "pbx_call_id": "in_1", "call_id_with_rec": "1.2"}
    good = _request("https://x.example/w", urlencode(fields).encode(),
                    {"Signature": zadarma_signature("s3cr3t", fields) or ""})
    assert verify_signature(channel, good) is None
    with pytest.raises(UnauthorizedError, match="does not match"):
        verify_signature(channel, good.model_copy(update={"body": b"event=NOTIFY_RECORD&pbx_call_id=in_2"}))
    odd = {"event": "NOTIFY_SOMETHING_NEW"}
    with pytest.raises(UnauthorizedError, match="no Zadarma signature rule"):
        verify_signature(channel, _request("https://x.example/w", urlencode(odd).encode(), {"Signature": "x"}))


def test_mango_sign_and_the_credentials_are_dropped_from_the_body() -> None:
    # Given an event signed with the VPBX key and salt
    document = '{"entry_id": "MjY0", "call_direction": 1}'
    sign = hashlib.sha256(("key1" + document + "salt1").encode()).hexdigest()
    body = urlencode({"vpbx_api_key": "key1", "sign": sign, "json": document}).encode()
    request = _request("https://x.example/w/events/summary", body)
    # When
    replacement = verify_signature(_channel("mango", "salt1", api_key="key1"), request)
    # Then
    assert replacement is not None
    assert json.loads(replacement) == {"json": document}
    with pytest.raises(UnauthorizedError, match="sign does not match"):
        verify_signature(_channel("mango", "salt2"), request)
    with pytest.raises(UnauthorizedError, match="not this channel's VPBX"):
        verify_signature(_channel("mango", "salt1", api_key="key2"), request)


# ----------------------------------------------------------------------------------- tokens and generic HMAC


def test_body_token_compares_the_field_and_removes_it() -> None:
    # Given a Bitrix24-like form with auth[application_token]
    body = urlencode({"event": "ONVOXIMPLANTCALLEND", "data[CALL_ID]": "c1", "auth[application_token]": "apptok",
                      "auth[domain]": "x.bitrix24.ru"}).encode()
    channel = _channel("body-token", "apptok", field="auth.application_token")
    # When
    replacement = verify_signature(channel, _request("https://x.example/w", body))
    # Then
    assert replacement is not None
    assert json.loads(replacement) == {"event": "ONVOXIMPLANTCALLEND", "data": {"CALL_ID": "c1"},
                                       "auth": {"domain": "x.bitrix24.ru"}}
    with pytest.raises(UnauthorizedError, match=r"wrong auth\.application_token"):
        verify_signature(_channel("body-token", "other", field="auth.application_token"),
                         _request("https://x.example/w", body))
    with pytest.raises(UnauthorizedError, match="missing token"):
        verify_signature(_channel("body-token", "apptok"), _request("https://x.example/w", body))


def test_header_token_and_hmac_sha256() -> None:
    assert verify_signature(_channel("header-token", "vt-1"),
                            _request("https://x.example/w", b"{}", {"Verification-Token": "vt-1"})) is None
    with pytest.raises(UnauthorizedError, match="wrong verification-token"):
        verify_signature(_channel("header-token", "vt-1"),
                         _request("https://x.example/w", b"{}", {"Verification-Token": "vt-2"}))
    body = b'{"call_id": "1"}'
    digest = hmac.new(b"k", body, hashlib.sha256)
    hex_channel = _channel("hmac-sha256", "k", header="X-Hub-Signature-256", prefix="sha256=")
    assert verify_signature(hex_channel, _request("https://x.example/w", body, {
        "X-Hub-Signature-256": "sha256=" + digest.hexdigest().upper()})) is None
    b64_channel = _channel("hmac-sha256", "k", encoding="base64")
    assert verify_signature(b64_channel, _request("https://x.example/w", body, {
        "X-Signature": base64.b64encode(digest.digest()).decode()})) is None
    with pytest.raises(UnauthorizedError, match="does not match"):
        verify_signature(b64_channel, _request("https://x.example/w", body + b" ", {
            "X-Signature": base64.b64encode(digest.digest()).decode()}))


def test_every_scheme_a_channel_may_name_has_a_verifier() -> None:
    assert set(SIGNATURE_SCHEMES) == set(signatures._VERIFIERS)


def test_unknown_scheme_fails_channel_validation() -> None:
    with pytest.raises(ValidationError, match="unknown signature scheme 'md5'"):
        _channel("md5", "x")


# ------------------------------------------------- a signature covers exactly what becomes the dialog


def test_twilio_signed_form_replayed_with_a_json_body_is_refused() -> None:
    # Given a genuine signed form POST (the URL and X-Twilio-Signature are what a raw event keeps)
    genuine = _twilio_request(TWILIO_URL, TWILIO_DOCS_PARAMS, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert verify_signature(_channel("twilio", TWILIO_TOKEN), genuine) is None
    # When the same URL and signature carry a JSON body of the attacker's choosing
    forged = _request(TWILIO_URL, b'{"CallSid": "CA-forged", "RecordingUrl": "http://evil.example/r"}',
                      {"X-Twilio-Signature": "0/KCTR6DLpKmkAf8muzZqo1nDgQ="}, content_type="application/json")
    # Then
    with pytest.raises(UnauthorizedError, match="bodySHA256"):
        verify_signature(_channel("twilio", TWILIO_TOKEN), forged)


def test_twilio_signed_get_replayed_as_a_post_with_any_non_form_body_is_refused() -> None:
    # Given a genuine signed GET: Twilio signs the URL (its query is the data) and no parameters
    url = "https://x.example/webhooks/ch-1?CallSid=CA1&CallStatus=completed"
    signature = twilio_signature(TWILIO_TOKEN, url, [])
    channel = _channel("twilio", TWILIO_TOKEN)
    assert verify_signature(channel, _request(url, headers={"X-Twilio-Signature": signature}, method="GET",
                                              content_type=None)) is None
    # When a POST to the same URL carries a body that is not a form, with or without a content type
    for content_type in ("application/json", "text/plain", None):
        forged = _request(url, b'{"CallSid": "CA-forged"}', {"X-Twilio-Signature": signature},
                          content_type=content_type)
        # Then
        with pytest.raises(UnauthorizedError, match="not covered"):
            verify_signature(channel, forged)


def test_twilio_signed_get_query_is_covered() -> None:
    url = "https://x.example/webhooks/ch-1?CallSid=CA1&CallStatus=completed"
    signature = twilio_signature(TWILIO_TOKEN, url, [])
    forged = _request(url.replace("CA1", "CA2"), headers={"X-Twilio-Signature": signature}, method="GET",
                      content_type=None)
    with pytest.raises(UnauthorizedError, match="X-Twilio-Signature does not match"):
        verify_signature(_channel("twilio", TWILIO_TOKEN), forged)


def test_hmac_of_the_empty_body_does_not_authenticate_a_get_query() -> None:
    # Given the HMAC of an empty body: a constant for the channel, valid for any GET
    signature = hmac.new(b"k", b"", hashlib.sha256).hexdigest()
    request = _request("https://x.example/webhooks/ch-1?call_id=forged&recording_url=http://evil.example/r",
                       headers={"X-Signature": signature}, method="GET", content_type=None)
    # Then
    with pytest.raises(UnauthorizedError, match="signs the body, not the query"):
        verify_signature(_channel("hmac-sha256", "k"), request)


def test_a_body_signing_scheme_still_accepts_a_get_without_data() -> None:
    # A GET whose only parameter is our own token carries no data: nothing to authenticate beyond the signature
    signature = hmac.new(b"k", b"", hashlib.sha256).hexdigest()
    request = _request("https://x.example/webhooks/ch-1?token=abc", headers={"X-Signature": signature},
                       method="GET", content_type=None)
    assert verify_signature(_channel("hmac-sha256", "k"), request) is None


def test_standard_webhooks_empty_body_signature_replayed_on_a_get_with_a_query_is_refused() -> None:
    # Given a genuine, fresh signature over an empty body
    now = int(time.time())
    key = base64.b64decode(SW_SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"{SW_ID}.{now}.".encode(), hashlib.sha256).digest()
    headers = {"webhook-id": SW_ID, "webhook-timestamp": str(now),
               "webhook-signature": "v1," + base64.b64encode(mac).decode()}
    channel = _channel("standard-webhooks", SW_SECRET)
    assert verify_signature(channel, _request("https://x.example/webhooks/ch-1", b"", headers)) is None
    # When it is replayed on a GET whose query is the attacker's
    forged = _request("https://x.example/webhooks/ch-1?call_id=forged", headers=headers, method="GET",
                      content_type=None)
    # Then
    with pytest.raises(UnauthorizedError, match="standard-webhooks scheme signs the body, not the query"):
        verify_signature(channel, forged)


@pytest.mark.parametrize("scheme", sorted(signatures.BODY_ONLY_SCHEMES))
def test_every_body_signing_scheme_refuses_a_get_with_a_query(scheme: str) -> None:
    secret = SW_SECRET if scheme == "standard-webhooks" else TelnyxSigner().public_key if scheme == "telnyx" else "s"
    request = _request("https://x.example/webhooks/ch-1?call_id=forged", method="GET", content_type=None)
    with pytest.raises(UnauthorizedError, match=f"the {scheme} scheme signs the body, not the query"):
        verify_signature(_channel(scheme, secret), request)


def _vonage_request(url: str, body: bytes, claims: dict[str, Any], method: str = "POST") -> WebhookRequest:
    token = jwt.encode(claims, VONAGE_SECRET, algorithm="HS256")
    return _request(url, body, {"Authorization": f"Bearer {token}"}, method=method,
                    content_type="application/json" if body else None)


def test_vonage_jwt_replayed_on_a_get_with_a_made_up_query_is_refused() -> None:
    # Given a captured JWT of an empty-body callback (payload_hash of b"")
    claims = {"iat": int(time.time()), "payload_hash": hashlib.sha256(b"").hexdigest()}
    channel = _channel("vonage", VONAGE_SECRET)
    assert verify_signature(channel, _vonage_request("https://x.example/w", b"", claims)) is None
    # When / Then
    forged = _vonage_request("https://x.example/w?conversation_uuid=CON-forged&status=completed", b"", claims,
                             method="GET")
    with pytest.raises(UnauthorizedError, match="vonage scheme signs the body, not the query"):
        verify_signature(channel, forged)


def test_vonage_jwt_without_payload_hash_is_refused_even_for_an_empty_body() -> None:
    request = _vonage_request("https://x.example/w", b"", {"iat": int(time.time())})
    with pytest.raises(UnauthorizedError, match="no payload_hash"):
        verify_signature(_channel("vonage", VONAGE_SECRET), request)


@pytest.mark.parametrize(("claims_iat", "match"), [
    (None, "no iat"),
    (-365 * 24 * 3600, "issued 31536000 s ago"),
    (-(300 + 61), "replays are refused"),
])
def test_vonage_jwt_must_be_recent(claims_iat: int | None, match: str) -> None:
    # Given a correctly hashed JWT issued a year ago, just past the limit, or without iat
    now = int(time.time())
    body = b'{"status": "completed"}'
    claims: dict[str, Any] = {"payload_hash": hashlib.sha256(body).hexdigest()}
    if claims_iat is not None:
        claims["iat"] = now + claims_iat
    # Then
    with pytest.raises(UnauthorizedError, match=match):
        verify_signature(_channel("vonage", VONAGE_SECRET), _vonage_request("https://x.example/w", body, claims),
                         now=now)


def test_vonage_max_age_is_an_option() -> None:
    now = int(time.time())
    body = b"{}"
    request = _vonage_request("https://x.example/w", body, {"iat": now - 900,
                                                           "payload_hash": hashlib.sha256(body).hexdigest()})
    assert verify_signature(_channel("vonage", VONAGE_SECRET, max_age_seconds=1200), request, now=now) is None
    with pytest.raises(UnauthorizedError, match="max_age_seconds 300"):
        verify_signature(_channel("vonage", VONAGE_SECRET), request, now=now)
    with pytest.raises(ChannelMisconfiguredError, match="max_age_seconds must be a number"):
        verify_signature(_channel("vonage", VONAGE_SECRET, max_age_seconds="soon"), request, now=now)


def test_plivo_signature_replayed_with_a_json_body_is_refused() -> None:
    # Given a genuine signed GET (Plivo signs the URL and the nonce; a body would be signed only as form fields)
    url = "https://example.com/webhooks/ch-1?CallUUID=abc&Event=Hangup"
    signature = plivo_v3_signature("tok", url, "n1", "GET", [])
    headers = {"X-Plivo-Signature-V3": signature, "X-Plivo-Signature-V3-Nonce": "n1"}
    assert verify_signature(_channel("plivo", "tok"), _request(url, headers=headers, method="GET",
                                                               content_type=None)) is None
    # When the same URL and signature carry a JSON POST body
    forged = _request(url, b'{"CallUUID": "forged"}', headers, content_type="application/json")
    # Then
    with pytest.raises(UnauthorizedError, match="Plivo signs form fields only"):
        verify_signature(_channel("plivo", "tok"), forged)


def test_zadarma_signed_fields_in_the_query_do_not_vouch_for_a_json_body() -> None:
    # Given the signed fields of a captured NOTIFY_END put in the query, and a JSON body of the attacker's choosing
    fields = {"event": "NOTIFY_END", "caller_id": "100", "called_did": "200", "call_start": "2026-10-05 09:15:07"}
    signature = zadarma_signature("s3cr3t", fields) or ""
    forged = _request(f"https://x.example/w?{urlencode(fields)}", b'{"pbx_call_id": "forged", "event": "NOTIFY_END"}',
                      {"Signature": signature}, content_type="application/json")
    # Then
    with pytest.raises(UnauthorizedError, match="Zadarma signs form fields only"):
        verify_signature(_channel("zadarma", "s3cr3t"), forged)
    # While the same fields in a GET query (where a GET's data is) pass
    get = _request(f"https://x.example/w?{urlencode(fields)}", headers={"Signature": signature}, method="GET",
                   content_type=None)
    assert verify_signature(_channel("zadarma", "s3cr3t"), get) is None
