"""The provider side of the provider tests: payload fixtures from events/providers and each provider's signing.

Signers are written here from each provider's description of its scheme, independently of
callhook.services.signatures, so that a test which signs here and verifies there checks the two against each other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

EVENTS = Path(__file__).resolve().parents[2] / "events" / "providers"
FORM = "application/x-www-form-urlencoded"


def fixture_text(provider: str, name: str) -> str:
    return (EVENTS / provider / name).read_text(encoding="utf-8").strip()


def fixture_json(provider: str, name: str) -> dict[str, Any]:
    return json.loads(fixture_text(provider, name))


def fixture_form(provider: str, name: str) -> list[tuple[str, str]]:
    return parse_qsl(fixture_text(provider, name), keep_blank_values=True)


def form_body(pairs: list[tuple[str, str]]) -> bytes:
    return urlencode(pairs).encode()


def twilio_sign(auth_token: str, url: str, pairs: list[tuple[str, str]]) -> str:
    """Twilio: base64 HMAC-SHA1 of the URL followed by every POST parameter, name then value, sorted by name."""
    data = url + "".join(k + v for k, v in sorted(pairs))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


class TelnyxSigner:
    """An Ed25519 key pair standing in for a Telnyx account: `public_key` is what the admin pastes."""

    def __init__(self) -> None:
        self._key = Ed25519PrivateKey.generate()
        raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key = base64.b64encode(raw).decode()

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = self._key.sign(ts.encode() + b"|" + body)
        return {"telnyx-signature-ed25519": base64.b64encode(signature).decode(), "telnyx-timestamp": ts,
                "Content-Type": "application/json"}


def plivo_sign(auth_token: str, url: str, nonce: str, pairs: list[tuple[str, str]]) -> str:
    """Plivo V3 for a POST with form parameters, as its SDKs build it: the URL without query, '?', the query
    sorted (then '.' when there is one), the parameters as sorted name+value, then '.' and the nonce."""
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}?"
    query = sorted(parse_qsl(parts.query, keep_blank_values=True))
    if query:
        base += "&".join(f"{k}={v}" for k, v in query) + "."
    base += "".join(k + v for k, v in sorted(pairs))
    digest = hmac.new(auth_token.encode(), f"{base}.{nonce}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def vonage_jwt(signature_secret: str, body: bytes, **claims: Any) -> str:
    """Vonage's signed callback token: HS256 with the signature secret, payload_hash = hex SHA-256 of the body."""
    payload = {"iat": int(time.time()), "jti": str(uuid.uuid4()), "iss": "Vonage", "api_key": "abcd1234",
               "application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
               "payload_hash": hashlib.sha256(body).hexdigest(), **claims}
    return jwt.encode(payload, signature_secret, algorithm="HS256")


def zadarma_sign(secret: str, pairs: list[tuple[str, str]]) -> str:
    """Zadarma (its PHP library): base64_encode(hash_hmac('sha1', fields of the event concatenated, secret))."""
    fields = dict(pairs)
    signed = {"NOTIFY_START": "caller_id called_did call_start", "NOTIFY_END": "caller_id called_did call_start",
              "NOTIFY_OUT_START": "internal destination call_start",
              "NOTIFY_OUT_END": "internal destination call_start", "NOTIFY_RECORD": "pbx_call_id call_id_with_rec"}
    data = "".join(fields.get(name, "") for name in signed[fields["event"]].split())
    return base64.b64encode(hmac.new(secret.encode(), data.encode(), hashlib.sha1).hexdigest().encode()).decode()


def mango_form(api_key: str, api_salt: str, document: dict[str, Any]) -> list[tuple[str, str]]:
    """Mango Office's request: vpbx_api_key, sign = sha256(api_key + json + salt) in hex, json."""
    text = json.dumps(document, ensure_ascii=False)
    return [("vpbx_api_key", api_key), ("sign", hashlib.sha256((api_key + text + api_salt).encode()).hexdigest()),
            ("json", text)]


# ------------------------------------------------------------------------------------- local stack helpers


def webhook_url(stack: Any, channel: dict[str, Any], suffix: str = "") -> str:
    """The URL a provider would be given for this channel on the local stack."""
    return f"{stack.stack.api_url}/webhooks/{channel['channel_id']}{suffix}"


def send(stack: Any, channel: dict[str, Any], body: bytes, headers: dict[str, str], *, query: str = "",
         suffix: str = "", method: str = "POST") -> Any:
    """A request exactly as given (raw body and headers, no token added): what a signing provider sends."""
    url = webhook_url(stack, channel, suffix) + (f"?{query}" if query else "")
    return stack.http.request(method, url, data=body, headers=headers, timeout=30)


def settled_telephony(stack: Any, channel: dict[str, Any], call_id: str, timeout: float = 30) -> dict[str, Any]:
    """The dialog's telephony block once its workflow began: its first step applies update events that arrived
    before the call's first event, so only then is the block complete. Later steps do not touch it."""
    from callhook.repositories.events import EventRepository

    dialog = stack.dialog_for(channel, call_id)
    assert dialog is not None, f"no dialog for {call_id}"
    events = EventRepository(stack.env["EVENTS_TABLE"])
    deadline = time.monotonic() + timeout
    while True:
        # Begin marks the workflow running, fills each early update, then marks it applied: once it runs and none
        # is left pending, a fresh read has them all.
        if stack.dialog(dialog.dialog_id).workflow.status != "pending" and not events.pending_updates(
                dialog.dialog_id):
            return stack.dialog(dialog.dialog_id).telephony.model_dump(mode="json")
        assert time.monotonic() < deadline, f"the workflow of {dialog.dialog_id} did not begin in {timeout}s"
        time.sleep(0.05)


def canonical(telephony: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in telephony.items() if k != "raw"}


def stored_nothing(stack: Any, channel: dict[str, Any]) -> bool:
    """No raw event for the channel (a refused request must leave no trace)."""
    from callhook.repositories.events import EventRepository

    events, _ = EventRepository(stack.env["EVENTS_TABLE"]).list_by_channel(channel["channel_id"])
    return not events
