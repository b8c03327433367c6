"""Which stored numbers an erasure by phone matches: the same E.164 number however it was written, never a longer
or shorter one, and never a SIP host's digits."""

from __future__ import annotations

import base64

import pytest

from callhook.errors import InvalidPhoneNumberError
from callhook.models.event import RawEvent, RawEventKind, StoredRequest
from callhook_admin.services.erasure import mentions_number, parse_phone, same_number

WANTED = "12025550143"


@pytest.mark.parametrize("stored", ["+12025550143", "+1 (202) 555-0143", "0012025550143", "sip:+12025550143@pbx",
                                    "tel:+1-202-555-0143"])
def test_same_number_however_written(stored: str) -> None:
    assert same_number(stored, WANTED)


@pytest.mark.parametrize("stored", [None, "", "anonymous", "+120255501430", "+2025550143",
                                    "sip:101@12025550143.example", 12025550143])
def test_other_numbers_do_not_match(stored: object) -> None:
    assert not same_number(stored, WANTED)


@pytest.mark.parametrize("phone", ["2025550143", "+1 202 555", "+0123456789", "call me", ""])
def test_only_e164_numbers_are_erased_by(phone: str) -> None:
    with pytest.raises(InvalidPhoneNumberError):
        parse_phone(phone)


def _event(body: bytes, query: str = "") -> RawEvent:
    return RawEvent(event_id="e-1", channel_id="ch", received_at="2026-12-01T00:00:00Z", kind=RawEventKind.REJECTED,
                    request=StoredRequest(method="POST", url="https://x/webhooks/ch", headers={}, raw_query=query,
                                          body_b64=base64.b64encode(body).decode()))


@pytest.mark.parametrize(("body", "query", "found"), [
    (b'{"from": "+12025550143"}', "", True),
    (b"From=%2B12025550143&To=%2B12025550100", "", True),
    (b"", "caller=12025550143", True),
    (b'{"from": "+120255501439"}', "", False),
    (b'{"from": "+12025550100"}', "", False),
])
def test_rejected_webhook_mentions_the_number(body: bytes, query: str, found: bool) -> None:
    assert mentions_number(_event(body, query), WANTED) is found
