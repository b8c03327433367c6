"""Telnyx, Vonage and Plivo presets through the local stack: signed events, several per call, one dialog."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.support.providers import (
    FORM,
    TelnyxSigner,
    canonical,
    fixture_form,
    fixture_text,
    form_body,
    plivo_sign,
    send,
    settled_telephony,
    stored_nothing,
    vonage_jwt,
    webhook_url,
)
from tests.support.stack import StackClient

# ---------------------------------------------------------------------------------------------------- Telnyx

TELNYX_SESSION = "428c31b6-abf3-3bc1-b7f4-5013ef9657c1"
TELNYX_EXPECTED = {
    "call_id": TELNYX_SESSION, "direction": "inbound", "caller": "+14158675309", "callee": "+12125551234",
    "started_at": "2026-11-25T10:00:00Z", "duration": 43, "status": "normal_clearing",
    "recording_url": "https://s3.amazonaws.com/telephony-recorder-prod/recording.mp3?X-Amz-Expires=600",
    "operator_email": None, "operator_ext": None,
}


@pytest.fixture(scope="module")
def telnyx() -> TelnyxSigner:
    return TelnyxSigner()


@pytest.mark.parametrize("order", [
    ("call_initiated", "call_answered", "call_hangup", "call_recording_saved"),
    ("call_recording_saved", "call_hangup", "call_answered", "call_initiated"),
])
def test_telnyx_events_of_one_call_session_make_one_dialog(stack: StackClient, telnyx: TelnyxSigner,
                                                           order: tuple[str, ...]) -> None:
    # Given a channel with the Telnyx preset and the account's public key
    ch = stack.channel(advanced_config={"preset": "telnyx"}, signature={"secret": telnyx.public_key})
    # When Telnyx delivers the call's events (direction only in call.initiated), in either order
    answers = {}
    for name in order:
        body = fixture_text("telnyx", f"{name}.json").encode()
        answers[name] = send(stack, ch, body, telnyx.headers(body))
    # Then call.answered is ignored, the others accepted, and the dialog has every field
    assert {n: a.status_code for n, a in answers.items()} == dict.fromkeys(order, 200)
    assert answers["call_answered"].json()["status"] == "ignored"
    assert canonical(settled_telephony(stack, ch, TELNYX_SESSION)) == TELNYX_EXPECTED


@pytest.mark.parametrize("forgery", ["other key", "stale timestamp", "changed body"])
def test_telnyx_bad_signature_is_401_and_stores_nothing(stack: StackClient, telnyx: TelnyxSigner,
                                                        forgery: str) -> None:
    ch = stack.channel(advanced_config={"preset": "telnyx"}, signature={"secret": telnyx.public_key})
    body = fixture_text("telnyx", "call_hangup.json").encode()
    signer = TelnyxSigner() if forgery == "other key" else telnyx
    headers = signer.headers(body, int(time.time()) - 600 if forgery == "stale timestamp" else None)
    if forgery == "changed body":
        body = body.replace(b"normal_clearing", b"user_busy")
    resp = send(stack, ch, body, headers)
    assert resp.status_code == 401, resp.text
    assert stack.dialog_for(ch, TELNYX_SESSION) is None
    assert stored_nothing(stack, ch)


# ---------------------------------------------------------------------------------------------------- Vonage

VONAGE_SECRET = "vonage-signature-secret-0123456789abcdef"
VONAGE_CONVERSATION = "CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
VONAGE_EXPECTED = {
    "call_id": VONAGE_CONVERSATION, "direction": "inbound", "caller": "+447911123456", "callee": "+442079460000",
    "started_at": "2026-11-25T10:00:02Z", "duration": 40, "status": "completed",
    "recording_url": "https://api.nexmo.com/v1/files/bbbbbbbb-cccc-dddd-eeee-0123456789ab",
    "operator_email": None, "operator_ext": None,
}


def _vonage(stack: StackClient, ch: dict, name: str, *, secret: str = VONAGE_SECRET, body: bytes | None = None):
    signed = fixture_text("vonage", f"{name}.json").encode()
    return send(stack, ch, signed if body is None else body, {
        "Content-Type": "application/json", "Authorization": f"Bearer {vonage_jwt(secret, signed)}"})


@pytest.mark.parametrize("order", [("event_answered", "event_completed", "record"),
                                   ("record", "event_answered", "event_completed")])
def test_vonage_event_and_record_webhooks_meet_on_conversation_uuid(stack: StackClient,
                                                                    order: tuple[str, ...]) -> None:
    ch = stack.channel(advanced_config={"preset": "vonage"}, signature={"secret": VONAGE_SECRET})
    answers = {name: _vonage(stack, ch, name) for name in order}
    assert {n: a.status_code for n, a in answers.items()} == dict.fromkeys(order, 200)
    assert answers["event_answered"].json()["status"] == "ignored"
    assert canonical(settled_telephony(stack, ch, VONAGE_CONVERSATION)) == VONAGE_EXPECTED


@pytest.mark.parametrize("forgery", ["wrong secret", "changed body", "no jwt"])
def test_vonage_bad_signature_is_401_and_stores_nothing(stack: StackClient, forgery: str) -> None:
    ch = stack.channel(advanced_config={"preset": "vonage"}, signature={"secret": VONAGE_SECRET})
    if forgery == "wrong secret":
        resp = _vonage(stack, ch, "event_completed", secret="another-secret-0123456789abcdefghijk")
    elif forgery == "changed body":
        changed = fixture_text("vonage", "event_completed.json").replace('"40"', '"4000"').encode()
        resp = _vonage(stack, ch, "event_completed", body=changed)
    else:
        resp = send(stack, ch, fixture_text("vonage", "event_completed.json").encode(),
                    {"Content-Type": "application/json"})
    assert resp.status_code == 401, resp.text
    assert stack.dialog_for(ch, VONAGE_CONVERSATION) is None
    assert stored_nothing(stack, ch)


# ----------------------------------------------------------------------------------------------------- Plivo

PLIVO_TOKEN = "plivo-auth-token-0123456789abcdef"
PLIVO_CALL = "5530a0f6-821d-11e4-9a73-498d468c930b"
PLIVO_EXPECTED = {
    "call_id": PLIVO_CALL, "direction": "inbound", "caller": "+14158675309", "callee": "+12125551234",
    "started_at": "2026-11-25T10:00:02Z", "duration": 38, "status": "completed",
    "recording_url": "https://media.plivo.com/v1/Account/MAXXXXXXXXXXXXXXXXXX/Recording/"
                     "2d3e4f5a-821d-11e4-9a73-498d468c930b.mp3",
    "operator_email": None, "operator_ext": None,
}


def _plivo(stack: StackClient, ch: dict, name: str, *, token: str = PLIVO_TOKEN, tamper: bool = False):
    pairs = fixture_form("plivo", name)
    nonce = uuid.uuid4().hex[:20]
    signature = plivo_sign(token, webhook_url(stack, ch), nonce, pairs)
    if tamper:
        pairs = [(k, "9999" if k == "Duration" else v) for k, v in pairs]
    return send(stack, ch, form_body(pairs), {"Content-Type": FORM, "X-Plivo-Signature-V3": signature,
                                              "X-Plivo-Signature-V3-Nonce": nonce})


@pytest.mark.parametrize("order", [("hangup.txt", "record.txt"), ("record.txt", "hangup.txt")])
def test_plivo_hangup_and_record_callbacks_make_one_dialog(stack: StackClient, order: tuple[str, str]) -> None:
    ch = stack.channel(advanced_config={"preset": "plivo"}, signature={"secret": PLIVO_TOKEN})
    answers = [_plivo(stack, ch, name) for name in order]
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert canonical(settled_telephony(stack, ch, PLIVO_CALL)) == PLIVO_EXPECTED


@pytest.mark.parametrize("forgery", ["wrong token", "changed body"])
def test_plivo_bad_signature_is_401_and_stores_nothing(stack: StackClient, forgery: str) -> None:
    ch = stack.channel(advanced_config={"preset": "plivo"}, signature={"secret": PLIVO_TOKEN})
    resp = _plivo(stack, ch, "hangup.txt", token="not-the-token" if forgery == "wrong token" else PLIVO_TOKEN,
                  tamper=forgery == "changed body")
    assert resp.status_code == 401, resp.text
    assert "X-Plivo-Signature-V3" in json.loads(resp.text)["message"]
    assert stored_nothing(stack, ch)
