"""Zadarma, Mango Office, Binotel, Sipuni and Bitrix24 presets through the local stack."""

from __future__ import annotations

import pytest

from tests.support.providers import (
    FORM,
    canonical,
    fixture_form,
    fixture_json,
    fixture_text,
    form_body,
    mango_form,
    send,
    settled_telephony,
    stored_nothing,
    webhook_url,
    zadarma_sign,
)
from tests.support.stack import StackClient

# --------------------------------------------------------------------------------------------------- Zadarma

ZADARMA_SECRET = "zadarma-api-secret-0123456789"
ZADARMA_IN = "in_b1d5a62e8c0f4a7b9d3e6f1a2c4b8d0e"
ZADARMA_OUT = "out_6f2e9c1a7b3d4e5f8a0b1c2d3e4f5a6b"


@pytest.fixture
def zadarma(stack: StackClient) -> dict:
    # The PBX sends Moscow time without a zone: the admin sets the channel's timezone over the preset's default
    return stack.channel(advanced_config={"preset": "zadarma", "timezone": "Europe/Moscow"},
                         signature={"secret": ZADARMA_SECRET})


def _zadarma(stack: StackClient, ch: dict, name: str, secret: str = ZADARMA_SECRET):
    pairs = fixture_form("zadarma", name)
    return send(stack, ch, form_body(pairs), {"Content-Type": FORM, "Signature": zadarma_sign(secret, pairs)})


def test_zadarma_zd_echo_check_is_answered_as_text_and_stores_nothing(stack: StackClient, zadarma: dict) -> None:
    # When Zadarma checks the notification link (no credentials: it is not a call)
    resp = stack.http.get(webhook_url(stack, zadarma), params={"zd_echo": "f1e2d3c4b5a6"}, timeout=30)
    # Then
    assert resp.status_code == 200
    assert resp.text == "f1e2d3c4b5a6"
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert stored_nothing(stack, zadarma)


def test_zadarma_incoming_and_outgoing_call_ends_map_by_event_name(stack: StackClient, zadarma: dict) -> None:
    # When the PBX notifies the start, the end and the recording of an incoming call, then an outgoing call's end
    answers = {name: _zadarma(stack, zadarma, name) for name in (
        "notify_start.txt", "notify_end.txt", "notify_record.txt", "notify_out_end.txt")}
    # Then only the ends make dialogs
    assert {n: (a.status_code, a.json()["status"]) for n, a in answers.items()} == {
        "notify_start.txt": (200, "ignored"), "notify_end.txt": (200, "accepted"),
        "notify_record.txt": (200, "ignored"), "notify_out_end.txt": (200, "accepted")}
    assert canonical(settled_telephony(stack, zadarma, ZADARMA_IN)) == {
        "call_id": ZADARMA_IN, "direction": "inbound", "caller": "+79261234567", "callee": "+74951234567",
        "started_at": "2026-11-25T10:00:02Z", "duration": 40, "status": "answered", "recording_url": None,
        "operator_email": None, "operator_ext": "100"}
    assert canonical(settled_telephony(stack, zadarma, ZADARMA_OUT)) == {
        "call_id": ZADARMA_OUT, "direction": "outbound", "caller": "+74951234567", "callee": "+79261234567",
        "started_at": "2026-11-25T11:10:00Z", "duration": 25, "status": "answered", "recording_url": None,
        "operator_email": None, "operator_ext": "101"}


def test_zadarma_bad_signature_is_401_and_stores_nothing(stack: StackClient, zadarma: dict) -> None:
    resp = _zadarma(stack, zadarma, "notify_end.txt", secret="not-the-secret")
    assert resp.status_code == 401, resp.text
    assert stack.dialog_for(zadarma, ZADARMA_IN) is None
    assert stored_nothing(stack, zadarma)


# ----------------------------------------------------------------------------------------------------- Mango

MANGO_KEY, MANGO_SALT = "mango-vpbx-api-key-0123", "mango-vpbx-api-salt-0123"
MANGO_ENTRY = "MjY0MzYxMzQ2Mzo2NzA="


def test_mango_summary_posted_to_its_event_path_becomes_the_dialog(stack: StackClient) -> None:
    # Given a channel with the Mango preset, its salt and its VPBX key
    ch = stack.channel(advanced_config={"preset": "mango"}, signature={"secret": MANGO_SALT, "api_key": MANGO_KEY})
    # When Mango posts the call events and the summary to the address plus each event's path
    disconnected = fixture_json("mango", "call_disconnected.json")
    call = send(stack, ch, form_body(mango_form(MANGO_KEY, MANGO_SALT, disconnected)), {"Content-Type": FORM},
                suffix="/events/call")
    summary = send(stack, ch, form_body(mango_form(MANGO_KEY, MANGO_SALT, fixture_json("mango", "summary.json"))),
                   {"Content-Type": FORM}, suffix="/events/summary")
    # Then the summary (a JSON document inside the form field json) makes the dialog
    assert (call.status_code, call.json()["status"]) == (200, "ignored"), call.text
    assert (summary.status_code, summary.json()["status"]) == (200, "accepted"), summary.text
    telephony = settled_telephony(stack, ch, MANGO_ENTRY)
    assert canonical(telephony) == {
        "call_id": MANGO_ENTRY, "direction": "inbound", "caller": "+79261234567", "callee": "+74951234567",
        "started_at": "2026-11-25T10:00:00Z", "duration": 37, "status": "answered", "recording_url": None,
        "operator_email": None, "operator_ext": "101"}
    assert set(telephony["raw"]) == {"json"}  # vpbx_api_key and sign are not kept


@pytest.mark.parametrize("forgery", ["wrong salt", "other vpbx"])
def test_mango_bad_sign_is_401_and_stores_nothing(stack: StackClient, forgery: str) -> None:
    ch = stack.channel(advanced_config={"preset": "mango"}, signature={"secret": MANGO_SALT, "api_key": MANGO_KEY})
    key, salt = (MANGO_KEY, "guessed-salt") if forgery == "wrong salt" else ("another-vpbx", MANGO_SALT)
    resp = send(stack, ch, form_body(mango_form(key, salt, fixture_json("mango", "summary.json"))),
                {"Content-Type": FORM}, suffix="/events/summary")
    assert resp.status_code == 401, resp.text
    assert stored_nothing(stack, ch)


# --------------------------------------------------------------------------------------------------- Binotel


def test_binotel_call_completed_with_bracket_keys_and_its_success_answer(stack: StackClient) -> None:
    # Given a channel with the Binotel preset (token in the URL: Binotel does not sign)
    ch = stack.channel(advanced_config={"preset": "binotel"})
    # When Binotel posts a call-settings request and the completed call
    settings = stack.post(ch, data=fixture_text("binotel", "call_settings.txt"), headers={"Content-Type": FORM})
    done = stack.post(ch, data=fixture_text("binotel", "call_completed.txt"), headers={"Content-Type": FORM})
    # Then both get the answer Binotel insists on, with docs/webhook-api.md's other keys
    assert (settings.status_code, settings.json()["status"]) == (200, "success")
    assert (done.status_code, done.json()["status"], bool(done.json()["dialog_id"])) == (200, "success", True)
    telephony = settled_telephony(stack, ch, "3216543211")
    assert canonical(telephony) == {
        "call_id": "3216543211", "direction": "inbound", "caller": "+380671234567", "callee": "+380443334455",
        "started_at": "2026-11-25T10:00:00Z", "duration": 37, "status": "ANSWER",
        "recording_url": "https://my.binotel.ua/?module=cdrs&action=generateFile&fileName=3216543211.mp3",
        "operator_email": "ann@example.com", "operator_ext": "901"}
    assert telephony["raw"]["callDetails"]["historyData"][0]["employeeName"] == "Ann Agent"


def test_binotel_error_answers_keep_the_contract(stack: StackClient) -> None:
    ch = stack.channel(advanced_config={"preset": "binotel"})
    resp = stack.post(ch, data=fixture_text("binotel", "call_completed.txt"), headers={"Content-Type": FORM},
                      token="wrong-token")
    assert resp.status_code == 401
    assert resp.json()["status"] == "rejected"


# ---------------------------------------------------------------------------------------------------- Sipuni

SIPUNI_CALL = "1795600800.123456"
SIPUNI_EXPECTED = {
    "call_id": SIPUNI_CALL, "direction": "inbound", "caller": "+79261234567", "callee": "201",
    "started_at": "2026-11-25T10:00:00Z", "duration": 37, "status": "ANSWER",
    "recording_url": "https://sipuni.com/api/crm/record?id=1795600800.123456&hash=9f8e7d6c",
    "operator_email": None, "operator_ext": "201",
}


@pytest.mark.parametrize("order", [
    ("event1_start", "event3_answer", "event4_secondary_hangup", "event2_end"),
    ("event2_end", "event4_secondary_hangup", "event3_answer", "event1_start"),
])
def test_sipuni_several_get_events_make_one_dialog(stack: StackClient, order: tuple[str, ...]) -> None:
    # Given a channel with the Sipuni preset; Sipuni sends its events as GET queries
    ch = stack.channel(advanced_config={"preset": "sipuni"})
    # When the call's events arrive (event 3 carries no caller number, event 4 no numbers at all)
    answers = {name: stack.get(ch, dict(fixture_form("sipuni", f"{name}.txt"))) for name in order}
    # Then each gets Sipuni's success answer; event 4 is ignored; the dialog has every field
    assert all(a.status_code == 200 and a.json()["success"] is True for a in answers.values()), \
        {n: a.text for n, a in answers.items()}
    assert answers["event4_secondary_hangup"].json()["status"] == "ignored"
    assert answers["event2_end"].json()["status"] == "accepted"
    assert canonical(settled_telephony(stack, ch, SIPUNI_CALL)) == SIPUNI_EXPECTED


def test_sipuni_without_the_token_is_401(stack: StackClient) -> None:
    ch = stack.channel(advanced_config={"preset": "sipuni"})
    resp = stack.http.get(webhook_url(stack, ch) + "?" + fixture_text("sipuni", "event2_end.txt"), timeout=30)
    assert resp.status_code == 401
    assert stored_nothing(stack, ch)


# -------------------------------------------------------------------------------------------------- Bitrix24

BITRIX_TOKEN = "s7d6f5g4h3j2k1l0"
BITRIX_CALL = "externalCall.4b1e9b2c3d4e5f6a7b8c9d0e1f2a3b4c.1795600800"


def test_bitrix24_call_end_with_its_application_token(stack: StackClient) -> None:
    ch = stack.channel(advanced_config={"preset": "bitrix24"}, signature={"secret": BITRIX_TOKEN})
    start = send(stack, ch, fixture_text("bitrix24", "call_start.txt").encode(), {"Content-Type": FORM})
    end = send(stack, ch, fixture_text("bitrix24", "call_end.txt").encode(), {"Content-Type": FORM})
    assert (start.status_code, start.json()["status"]) == (200, "ignored"), start.text
    assert (end.status_code, end.json()["status"]) == (200, "accepted"), end.text
    telephony = settled_telephony(stack, ch, BITRIX_CALL)
    assert canonical(telephony) == {
        "call_id": BITRIX_CALL, "direction": "inbound", "caller": "+79261234567", "callee": "+74951234567",
        "started_at": "2026-11-25T10:00:02Z", "duration": 37, "status": "Success call", "recording_url": None,
        "operator_email": None, "operator_ext": None}
    assert "application_token" not in telephony["raw"]["auth"]
    assert telephony["raw"]["auth"]["domain"] == "example.bitrix24.ru"


def test_bitrix24_wrong_application_token_is_401(stack: StackClient) -> None:
    ch = stack.channel(advanced_config={"preset": "bitrix24"}, signature={"secret": BITRIX_TOKEN})
    body = fixture_text("bitrix24", "call_end.txt").replace(BITRIX_TOKEN, "guessed")
    resp = send(stack, ch, body.encode(), {"Content-Type": FORM})
    assert resp.status_code == 401, resp.text
    assert stored_nothing(stack, ch)
