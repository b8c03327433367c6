"""Issue 10 through the local stack's HTTP path: a signature authenticates exactly what becomes the dialog, and
no provider credential reaches a dialog's `telephony.raw` or a stored raw event."""

from __future__ import annotations

import json
from typing import Any

from callhook.repositories.events import EventRepository
from tests.support.providers import (
    FORM,
    fixture_form,
    fixture_text,
    form_body,
    send,
    settled_telephony,
    stored_nothing,
    twilio_sign,
    webhook_url,
)
from tests.support.stack import StackClient

TWILIO_TOKEN = "twilio-auth-token-0123456789abcdef"
RC_TOKEN = "rc-verification-token-0123456789"
APP_TOKEN = "bitrix-application-token-0123456789"


def _stored(stack: StackClient, channel: dict[str, Any]) -> str:
    """Every raw event of the channel, as the CLI would print it."""
    events, _ = EventRepository(stack.env["EVENTS_TABLE"]).list_by_channel(channel["channel_id"])
    return json.dumps([event.model_dump(mode="json") for event in events])


def test_a_signed_twilio_form_replayed_with_a_json_body_forges_nothing(stack: StackClient) -> None:
    # Given a genuine signed status callback, accepted
    ch = stack.channel(advanced_config={"preset": "twilio"}, signature={"secret": TWILIO_TOKEN})
    pairs = fixture_form("twilio", "status_completed.txt")
    signature = twilio_sign(TWILIO_TOKEN, webhook_url(stack, ch), pairs)
    genuine = send(stack, ch, form_body(pairs), {"Content-Type": FORM, "X-Twilio-Signature": signature})
    assert genuine.status_code == 200, genuine.text
    # When an attacker replays its URL and signature with a JSON update of their choosing
    forged = {"CallSid": "CA-forged", "CallStatus": "completed", "RecordingStatus": "completed",
              "RecordingUrl": "http://attacker.example/steal"}
    resp = send(stack, ch, json.dumps(forged).encode(),
                {"Content-Type": "application/json", "X-Twilio-Signature": signature})
    # Then
    assert resp.status_code == 401, resp.text
    assert "bodySHA256" in resp.json()["message"]
    assert stack.dialog_for(ch, "CA-forged") is None
    assert "attacker.example" not in json.dumps(stack.dialog_for(ch, dict(pairs)["CallSid"]).model_dump(mode="json"))


def test_a_hmac_channel_refuses_a_get_with_the_empty_body_signature(stack: StackClient) -> None:
    import hashlib
    import hmac

    ch = stack.channel(signature={"scheme": "hmac-sha256", "secret": "hmac-secret-0123"})
    empty = hmac.new(b"hmac-secret-0123", b"", hashlib.sha256).hexdigest()
    resp = send(stack, ch, b"", {"X-Signature": empty}, query="call_id=forged&caller=%2B15550100", method="GET")
    assert resp.status_code == 401, resp.text
    assert "signs the body, not the query" in resp.json()["message"]
    assert stack.dialog_for(ch, "forged") is None
    assert stored_nothing(stack, ch)


def test_ringcentral_verification_token_is_not_kept_in_a_raw_event(stack: StackClient) -> None:
    # Given a RingCentral channel, and a notification that authenticates but cannot become a dialog (422)
    ch = stack.channel(advanced_config={"preset": "ringcentral", "field_mapping": {"call_id": "no_such_field"},
                                        "accept_when": "`true`"},
                       signature={"secret": RC_TOKEN})
    resp = send(stack, ch, fixture_text("ringcentral", "disconnected.json").encode(),
                {"Content-Type": "application/json", "Verification-Token": RC_TOKEN})
    # Then it is kept for the admin, without the token
    assert resp.status_code == 422, resp.text
    stored = _stored(stack, ch)
    assert "rejected" in stored
    assert RC_TOKEN not in stored


def test_a_body_token_sent_in_a_get_query_reaches_neither_the_dialog_nor_a_raw_event(stack: StackClient) -> None:
    # Given a channel whose provider sends its application token as a form field, here in a GET query
    ch = stack.channel(signature={"scheme": "body-token", "secret": APP_TOKEN, "field": "auth.application_token"},
                       advanced_config={"field_mapping": {"call_id": "data.CALL_ID"}})
    query = f"data%5BCALL_ID%5D=c-get-1&auth%5Bapplication_token%5D={APP_TOKEN}&auth%5Bdomain%5D=x.bitrix24.ru"
    # When the call arrives, then one without a call id
    accepted = send(stack, ch, b"", {}, query=query, method="GET")
    rejected = send(stack, ch, b"", {}, query=query.replace("CALL_ID", "OTHER"), method="GET")
    # Then
    assert accepted.status_code == 200, accepted.text
    assert rejected.status_code == 422, rejected.text
    telephony = settled_telephony(stack, ch, "c-get-1")
    assert telephony["raw"] == {"data": {"CALL_ID": "c-get-1"}, "auth": {"domain": "x.bitrix24.ru"}}
    stored = _stored(stack, ch)
    assert "x.bitrix24.ru" in stored
    assert APP_TOKEN not in stored
