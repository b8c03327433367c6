"""Which stored numbers an erasure by phone matches: the same E.164 number however it was written, never a longer
or shorter one, and never a SIP host's digits."""

from __future__ import annotations

import base64

import pytest

from callhook.errors import InvalidPhoneNumberError
from callhook.models.event import RawEvent, RawEventKind, StoredRequest
from callhook_admin.services.erasure import mentions_number, parse_phone, same_number

WANTED = parse_phone("+12025550143")
LONDON = parse_phone("+442079460018")


@pytest.mark.parametrize("stored", ["+12025550143", "+1 (202) 555-0143", "0012025550143", "sip:+12025550143@pbx",
                                    "tel:+1-202-555-0143", "12025550143",
                                    # national forms, as a channel without default_region keeps them
                                    "(202) 555-0143", "202-555-0143", "202.555.0143", "2025550143", "1 202 555 0143",
                                    "sip:2025550143@pbx"])
def test_same_number_however_written(stored: str) -> None:
    assert same_number(stored, WANTED)


@pytest.mark.parametrize("stored", [None, "", "anonymous", "+120255501430", "+2025550143",
                                    "sip:101@12025550143.example", 12025550143,
                                    # one digit off, one digit short, another area, another country's +
                                    "(202) 555-0144", "(202) 555-014", "(203) 555-0143", "+44 202 555 0143"])
def test_other_numbers_do_not_match(stored: object) -> None:
    assert not same_number(stored, WANTED)


@pytest.mark.parametrize("stored", ["020 7946 0018", "(020) 7946-0018", "+44 20 7946 0018", "00442079460018"])
def test_a_national_number_with_its_trunk_prefix_is_compared_by_its_national_number(stored: str) -> None:
    assert same_number(stored, LONDON)
    assert not same_number(stored, WANTED)


def test_the_wanted_number_says_its_country_and_region_for_the_record() -> None:
    assert (WANTED.e164, WANTED.country_code, WANTED.region) == ("+12025550143", 1, "US")
    assert (LONDON.country_code, LONDON.region) == (44, "GB")


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
    # other spacing and national forms, in JSON, in a form body, in the query
    (b'{"from": "(202) 555-0143"}', "", True),
    (b'{"call": {"parties": ["202.555.0143"]}}', "", True),
    (b"From=%28202%29+555-0143&To=%2B12025550100", "", True),
    (b"", "caller=%2B1%20202%20555%200143", True),
    (b'{"from": "(202) 555-0144"}', "", False),
    (b'{"id": "2025550143999"}', "", False),
])
def test_rejected_webhook_mentions_the_number(body: bytes, query: str, found: bool) -> None:
    assert mentions_number(_event(body, query), WANTED) is found


def test_a_body_in_another_charset_is_read_as_ingest_reads_it() -> None:
    body = '{"from": "(202) 555-0143", "note": "€"}'.encode("utf-16")
    event = _event(body).model_copy(update={"request": _event(body).request.model_copy(
        update={"headers": {"content-type": "application/json; charset=utf-16"}})})
    assert mentions_number(event, WANTED)
