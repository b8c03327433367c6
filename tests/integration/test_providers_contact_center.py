"""Aircall, Dialpad, RingCentral and Exotel presets through the local stack."""

from __future__ import annotations

import json

import jwt
import pytest

from tests.support.providers import (
    FORM,
    canonical,
    fixture_json,
    fixture_text,
    send,
    settled_telephony,
    stored_nothing,
)
from tests.support.stack import StackClient

# --------------------------------------------------------------------------------------------------- Aircall

AIRCALL_TOKEN = "45XXYYZZa08"  # the token of Aircall's published example


def test_aircall_call_ended_maps_every_field_and_the_token_is_not_kept(stack: StackClient) -> None:
    # Given a channel with the Aircall preset and the webhook's token
    ch = stack.channel(advanced_config={"preset": "aircall"}, signature={"secret": AIRCALL_TOKEN})
    # When Aircall sends the ringing event, then call.ended
    ringing = stack.post(ch, json_body=fixture_json("aircall", "call_ringing_on_agent.json"), token=None)
    ended = stack.post(ch, json_body=fixture_json("aircall", "call_ended.json"), token=None)
    # Then
    assert (ringing.status_code, ringing.json()["status"]) == (200, "ignored")
    assert (ended.status_code, ended.json()["status"]) == (200, "accepted"), ended.text
    telephony = settled_telephony(stack, ch, "812")
    assert canonical(telephony) == {
        "call_id": "812", "direction": "inbound", "caller": "+33176360695", "callee": "+33176360600",
        "started_at": "2026-11-25T10:00:00Z", "duration": 42, "status": "done",
        "recording_url": "https://aircall-recordings.s3.amazonaws.com/812-recording.mp3?X-Amz-Expires=600",
        "operator_email": "john.doe@aircall.io", "operator_ext": None}
    assert "token" not in telephony["raw"]
    assert telephony["raw"]["event"] == "call.ended"


@pytest.mark.parametrize("token", ["wrong-token", None])
def test_aircall_wrong_or_missing_body_token_is_401(stack: StackClient, token: str | None) -> None:
    ch = stack.channel(advanced_config={"preset": "aircall"}, signature={"secret": AIRCALL_TOKEN})
    body = fixture_json("aircall", "call_ended.json")
    if token is None:
        del body["token"]
    else:
        body["token"] = token
    resp = stack.post(ch, json_body=body, token=None)
    assert resp.status_code == 401, resp.text
    assert stack.dialog_for(ch, "812") is None
    assert stored_nothing(stack, ch)


# --------------------------------------------------------------------------------------------------- Dialpad

DIALPAD_SECRET = "dialpad-webhook-secret-0123456789abcdef"
DIALPAD_CALL = "6342343299702784"
DIALPAD_EXPECTED = {
    "call_id": DIALPAD_CALL, "direction": "inbound", "caller": "+14158675309", "callee": "+12125551234",
    "started_at": "2026-11-25T10:00:00Z", "duration": 37, "status": "answered",
    "recording_url": "https://dialpad.com/r/5191637390024704", "operator_email": "ann@example.com",
    "operator_ext": None,
}


def _dialpad_jwt(name: str, secret: str = DIALPAD_SECRET) -> bytes:
    return jwt.encode(fixture_json("dialpad", name), secret, algorithm="HS256").encode()


@pytest.mark.parametrize("order", [("hangup.json", "recording.json"), ("recording.json", "hangup.json")])
def test_dialpad_jwt_bodies_are_verified_decoded_and_make_one_dialog(stack: StackClient,
                                                                      order: tuple[str, str]) -> None:
    # Given a channel with the Dialpad preset and the webhook's secret
    ch = stack.channel(advanced_config={"preset": "dialpad"}, signature={"secret": DIALPAD_SECRET})
    # When Dialpad sends the hangup and recording events as signed JWTs
    answers = [send(stack, ch, _dialpad_jwt(name), {"Content-Type": "application/jwt"}) for name in order]
    # Then
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    telephony = settled_telephony(stack, ch, DIALPAD_CALL)
    assert canonical(telephony) == DIALPAD_EXPECTED
    assert telephony["raw"]["target"]["name"] == "Ann Agent"  # the decoded claims, not the token


def test_dialpad_without_a_secret_sends_plain_json_with_the_channel_token(stack: StackClient) -> None:
    ch = stack.channel(advanced_config={"preset": "dialpad"})
    resp = stack.post(ch, json_body=fixture_json("dialpad", "hangup.json"))
    assert resp.status_code == 200, resp.text
    assert settled_telephony(stack, ch, DIALPAD_CALL)["operator_email"] == "ann@example.com"


@pytest.mark.parametrize("forgery", ["wrong secret", "plain json"])
def test_dialpad_bad_jwt_is_401_and_stores_nothing(stack: StackClient, forgery: str) -> None:
    ch = stack.channel(advanced_config={"preset": "dialpad"}, signature={"secret": DIALPAD_SECRET})
    body = (_dialpad_jwt("hangup.json", "another-secret-0123456789abcdefghijk") if forgery == "wrong secret"
            else fixture_text("dialpad", "hangup.json").encode())
    resp = send(stack, ch, body, {"Content-Type": "application/jwt"})
    assert resp.status_code == 401, resp.text
    assert stored_nothing(stack, ch)


# ----------------------------------------------------------------------------------------------- RingCentral

RC_TOKEN = "rc-verification-token-0123456789"
RC_SESSION = "s-a0d7b6c1b7f5cz18a5c6e5e4eZ4b2c7f40000"


def test_ringcentral_validation_token_is_echoed_without_credentials_and_stores_nothing(stack: StackClient) -> None:
    # Given a channel with the RingCentral preset
    ch = stack.channel(advanced_config={"preset": "ringcentral"}, signature={"secret": RC_TOKEN})
    # When RingCentral creates the subscription: an empty POST with Validation-Token, no verification token
    resp = send(stack, ch, b"", {"Validation-Token": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"})
    # Then
    assert resp.status_code == 200, resp.text
    assert resp.headers["Validation-Token"] == "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
    assert stored_nothing(stack, ch)


def test_ringcentral_validation_header_on_a_notification_does_not_skip_authentication(stack: StackClient) -> None:
    ch = stack.channel(advanced_config={"preset": "ringcentral"}, signature={"secret": RC_TOKEN})
    resp = send(stack, ch, fixture_text("ringcentral", "disconnected.json").encode(),
                {"Content-Type": "application/json", "Validation-Token": "x"})
    assert resp.status_code == 401, resp.text
    assert stack.dialog_for(ch, RC_SESSION) is None


@pytest.mark.parametrize("order", [("answered.json", "disconnected.json"), ("disconnected.json", "answered.json")])
def test_ringcentral_answered_and_disconnected_make_one_dialog(stack: StackClient, order: tuple[str, str]) -> None:
    ch = stack.channel(advanced_config={"preset": "ringcentral"}, signature={"secret": RC_TOKEN})
    answers = [send(stack, ch, fixture_text("ringcentral", name).encode(),
                    {"Content-Type": "application/json", "Verification-Token": RC_TOKEN}) for name in order]
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert canonical(settled_telephony(stack, ch, RC_SESSION)) == {
        "call_id": RC_SESSION, "direction": "inbound", "caller": "+14158675309", "callee": "+16505550100",
        "started_at": "2026-11-25T10:00:04Z", "duration": None, "status": "Disconnected", "recording_url": None,
        "operator_email": None, "operator_ext": None}


def test_ringcentral_wrong_verification_token_is_401(stack: StackClient) -> None:
    ch = stack.channel(advanced_config={"preset": "ringcentral"}, signature={"secret": RC_TOKEN})
    resp = send(stack, ch, fixture_text("ringcentral", "disconnected.json").encode(),
                {"Content-Type": "application/json", "Verification-Token": "guessed"})
    assert resp.status_code == 401, resp.text
    assert stored_nothing(stack, ch)


# ---------------------------------------------------------------------------------------------------- Exotel


def test_exotel_terminal_callback_reads_ist_times_and_national_numbers(stack: StackClient) -> None:
    # Given a channel with the Exotel preset (no signature: the token is in the URL)
    ch = stack.channel(advanced_config={"preset": "exotel"})
    # When
    resp = send(stack, ch, fixture_text("exotel", "status_terminal.txt").encode(), {"Content-Type": FORM},
                query=f"token={ch['webhook_token']}")
    # Then
    assert resp.status_code == 200, resp.text
    telephony = settled_telephony(stack, ch, "b6cfaf3b4e2d3b6f6b4c1f5b2d8e1c9a")
    assert canonical(telephony) == {
        "call_id": "b6cfaf3b4e2d3b6f6b4c1f5b2d8e1c9a", "direction": "outbound", "caller": "+918039591234",
        "callee": "+919812345678", "started_at": "2026-11-25T10:00:02Z", "duration": 38, "status": "completed",
        "recording_url": "https://s3-ap-southeast-1.amazonaws.com/exotelrecordings/acme/"
                         "b6cfaf3b4e2d3b6f6b4c1f5b2d8e1c9a.mp3",
        "operator_email": None, "operator_ext": None}
    assert telephony["raw"]["Legs"][1]["OnCallDuration"] == "38"


def test_exotel_without_the_token_is_401(stack: StackClient) -> None:
    ch = stack.channel(advanced_config={"preset": "exotel"})
    resp = send(stack, ch, fixture_text("exotel", "status_terminal.txt").encode(), {"Content-Type": FORM})
    assert resp.status_code == 401
    assert json.loads(resp.text)["reason"] == "unauthorized"
