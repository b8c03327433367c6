"""Twilio preset through the local stack's real HTTP path: signed status and recording callbacks make one dialog."""

from __future__ import annotations

import uuid

import pytest

from tests.support.providers import (
    FORM,
    canonical,
    fixture_form,
    form_body,
    send,
    settled_telephony,
    stored_nothing,
    twilio_sign,
    webhook_url,
)
from tests.support.stack import StackClient

AUTH_TOKEN = "twilio-auth-token-0123456789abcdef"
CALL_SID = "CA5f3c9e1d2b4a6c8e0f1a2b3c4d5e6f70"
EXPECTED = {
    "call_id": CALL_SID, "direction": "inbound", "caller": "+14158675309", "callee": "+18005551212",
    "started_at": "2026-11-25T10:00:02Z", "duration": 42, "status": "completed",
    "recording_url": "https://api.twilio.com/2010-04-01/Accounts/ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/Recordings/"
                     "RE0a1b2c3d4e5f60718293a4b5c6d7e8f9.mp3",
    "operator_email": None, "operator_ext": None,
}


@pytest.fixture
def channel(stack: StackClient) -> dict:
    return stack.channel(advanced_config={"preset": "twilio"}, signature={"secret": AUTH_TOKEN})


def _signed(stack: StackClient, channel: dict, fixture: str, *, token: str = AUTH_TOKEN, url: str | None = None):
    pairs = fixture_form("twilio", fixture)
    signature = twilio_sign(token, url or webhook_url(stack, channel), pairs)
    return send(stack, channel, form_body(pairs), {"Content-Type": FORM, "X-Twilio-Signature": signature})


@pytest.mark.parametrize("order", [("status_completed.txt", "recording_completed.txt"),
                                   ("recording_completed.txt", "status_completed.txt")])
def test_twilio_status_and_recording_callbacks_make_one_dialog_in_any_order(stack: StackClient, channel: dict,
                                                                            order: tuple[str, str]) -> None:
    # When Twilio delivers both callbacks, signed with the account's auth token
    answers = [_signed(stack, channel, name) for name in order]
    # Then both are accepted (one creates, one updates) and the dialog has every field
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert {a.json()["status"] for a in answers} == {"accepted"}
    telephony = settled_telephony(stack, channel, CALL_SID)
    assert canonical(telephony) == EXPECTED
    assert telephony["raw"]["CallbackSource"] == "call-progress-events"


def test_twilio_progress_callbacks_are_ignored(stack: StackClient, channel: dict) -> None:
    resp = _signed(stack, channel, "status_ringing.txt")
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "ignored"
    assert stack.dialog_for(channel, CALL_SID) is None


@pytest.mark.parametrize("forgery", ["wrong token", "changed body", "no signature", "token instead"])
def test_twilio_bad_signature_is_401_and_stores_nothing(stack: StackClient, channel: dict, forgery: str) -> None:
    # Given a request that is not Twilio's
    pairs = fixture_form("twilio", "status_completed.txt")
    signature = twilio_sign("not-the-auth-token" if forgery == "wrong token" else AUTH_TOKEN,
                            webhook_url(stack, channel), pairs)
    if forgery == "changed body":
        pairs = [(k, "3600" if k == "CallDuration" else v) for k, v in pairs]
    headers = {"Content-Type": FORM, "X-Twilio-Signature": signature}
    if forgery in ("no signature", "token instead"):
        del headers["X-Twilio-Signature"]
    if forgery == "token instead":  # a signing channel does not fall back to its token
        headers["X-Webhook-Token"] = channel["webhook_token"]
    # When
    resp = send(stack, channel, form_body(pairs), headers)
    # Then
    assert resp.status_code == 401, resp.text
    assert resp.json()["reason"] == "unauthorized"
    assert stack.dialog_for(channel, CALL_SID) is None
    assert stored_nothing(stack, channel)


def test_twilio_signature_over_the_public_url_when_a_proxy_rewrites_it(stack: StackClient) -> None:
    # Given the URL entered in Twilio is a custom domain in front of the API, with a query Twilio keeps
    public = "https://calls.example.com/twilio/hook"
    ch = stack.channel(advanced_config={"preset": "twilio"}, signature={"secret": AUTH_TOKEN}, public_url=public)
    pairs = fixture_form("twilio", "status_completed.txt")
    # When Twilio signs what it called
    resp = send(stack, ch, form_body(pairs), {
        "Content-Type": FORM, "X-Twilio-Signature": twilio_sign(AUTH_TOKEN, f"{public}?line=main", pairs)},
        query="line=main")
    # Then
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "accepted"


def test_twilio_auth_token_from_parameter_store(stack: StackClient) -> None:
    # Given the auth token kept in SSM and the channel pointing at it
    name = f"/callhook/test/twilio-{uuid.uuid4().hex[:8]}"
    stack.stack.client("ssm").put_parameter(Name=name, Value=AUTH_TOKEN, Type="SecureString")
    ch = stack.channel(advanced_config={"preset": "twilio"}, signature={"secret": f"ssm:{name}"})
    # When
    resp = _signed(stack, ch, "status_completed.txt")
    # Then
    assert resp.status_code == 200, resp.text
    assert settled_telephony(stack, ch, CALL_SID)["duration"] == 42


def test_twilio_missing_ssm_secret_is_503_naming_nothing_of_the_configuration(stack: StackClient) -> None:
    ch = stack.channel(advanced_config={"preset": "twilio"}, signature={"secret": "ssm:/callhook/test/absent"})
    resp = _signed(stack, ch, "status_completed.txt")
    assert resp.status_code == 503, resp.text
    assert resp.json()["reason"] == "channel_misconfigured"
    # the caller may be anyone: the parameter's name is for the admin (log, `callhook channel check`), not for them
    assert "/callhook/test/absent" not in resp.text
    assert "callhook channel check" in resp.json()["message"]
    assert stored_nothing(stack, ch)
