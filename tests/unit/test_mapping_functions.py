"""The JMESPath functions of docs/items.md, on every input form they promise, called the way mappings call them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import jmespath
import pytest

from callhook.mapping import (
    compile_expression,
    parse_time,
    search,
    seconds_between,
    validate_expression,
    validate_timezone,
)

EXPECTED = "2026-11-25T01:10:23Z"  # 1795569023; 03:10:23 in Kyiv (UTC+2 in November)


def _call(expr, value, **kwargs):
    return search(expr, {"v": value}, **kwargs)


# --- to_iso -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        1795569023,
        "1795569023",
        1795569023.75,
        "1795569023.75",
        1795569023456,
        "1795569023456",
        1795569023456789,
        "1795569023456789",
        1795569023456789123,
    ],
    ids=["s", "s-str", "s-float", "s-float-str", "ms", "ms-str", "us", "us-str", "ns"],
)
def test_to_iso_reads_unix_times_by_magnitude(value):
    # Given a unix time in seconds, milliseconds, microseconds or nanoseconds
    # When
    iso = _call("to_iso(v)", value)
    # Then
    assert iso == EXPECTED


@pytest.mark.parametrize(
    "value",
    [
        "Wed, 25 Nov 2026 01:10:23 +0000",
        "Wed, 25 Nov 2026 03:10:23 +0200",
        "25 Nov 2026 01:10:23 GMT",
        "Wed, 25 Nov 2026 01:10:23 -0000",
    ],
)
def test_to_iso_reads_rfc_2822(value):
    # Given Twilio's Timestamp form
    # When / Then
    assert _call("to_iso(v)", value) == EXPECTED


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-25T01:10:23Z",
        "2026-11-25T01:10:23z",
        "2026-11-25T03:10:23+02:00",
        "2026-11-25T03:10:23+0200",
        "2026-11-24T22:10:23-03:00",
        "2026-11-25T01:10:23.123Z",
        "2026-11-25T01:10:23.123456Z",
        "2026-11-25T01:10:23.123456789Z",
        "2026-11-25 01:10:23.999999Z",
        "2026-11-25 01:10:23 UTC",
        "20261125T011023Z",
    ],
)
def test_to_iso_reads_iso_8601_and_keeps_whole_seconds(value):
    # Given ISO-8601 with Z, an offset or sub-seconds (Telnyx µs, Amazon Connect ms, TeXML's space form)
    # When / Then: sub-seconds are truncated, never rounded up
    assert _call("to_iso(v)", value) == EXPECTED


@pytest.mark.parametrize("value", ["2026-11-25 03:10:23", "2026-11-25T03:10:23", "2026-11-25 03:10:23.5"])
def test_to_iso_reads_zoneless_local_time_in_the_tz_argument(value):
    # Given a zoneless time (Zadarma, Plivo, Asterisk) and a zone named in the expression
    # When / Then
    assert _call("to_iso(v, 'Europe/Kyiv')", value) == EXPECTED


def test_to_iso_reads_zoneless_local_time_in_the_channel_timezone():
    # Given a channel whose advanced_config.timezone is Kyiv
    # When
    iso = _call("to_iso(v)", "2026-11-25 03:10:23", timezone="Europe/Kyiv")
    # Then
    assert iso == EXPECTED


def test_to_iso_prefers_the_tz_argument_to_the_channel_timezone():
    # Given
    value = "2026-11-25 06:40:23"
    # When
    iso = _call("to_iso(v, 'Asia/Kolkata')", value, timezone="Europe/Kyiv")
    # Then
    assert iso == EXPECTED


def test_to_iso_reads_zoneless_local_time_as_utc_by_default():
    # Given no tz argument and no channel timezone
    # When / Then
    assert _call("to_iso(v)", "2026-11-25 01:10:23") == EXPECTED


def test_to_iso_accepts_a_fixed_offset_as_tz():
    # Given
    value = "2026-11-25 03:10:23"
    # When / Then
    assert _call("to_iso(v, '+02:00')", value) == EXPECTED


def test_to_iso_ignores_tz_for_values_that_carry_their_zone():
    # Given
    value = "2026-11-25T01:10:23Z"
    # When / Then
    assert _call("to_iso(v, 'Asia/Tokyo')", value, timezone="Europe/Kyiv") == EXPECTED


def test_to_iso_follows_daylight_saving_time():
    # Given a summer time in Kyiv (UTC+3)
    value = "2026-07-25 03:10:23"
    # When / Then
    assert _call("to_iso(v, 'Europe/Kyiv')", value) == "2026-07-25T00:10:23Z"


@pytest.mark.parametrize(
    "value",
    ["garbage", "", "2026-13-45 25:61:00", "Mon, 99 Nov 2026 01:10:23 +0000", True, {"a": 1}, [1], 1e30, "1e5"],
)
def test_to_iso_gives_null_for_unreadable_values(value):
    # Given
    problems: list[str] = []
    # When
    iso = _call("to_iso(v)", value, problems=problems)
    # Then
    assert iso is None
    assert not isinstance(value, str) or value == "" or problems


def test_to_iso_gives_null_for_a_zoneless_time_in_an_unknown_zone():
    # Given
    problems: list[str] = []
    # When
    iso = _call("to_iso(v, 'Mars/Olympus')", "2026-11-25 03:10:23", problems=problems)
    # Then
    assert iso is None
    assert "unknown timezone 'Mars/Olympus'" in problems[0]


def test_to_iso_gives_null_for_null():
    # Given / When / Then
    assert _call("to_iso(missing)", None) is None


def test_to_iso_with_too_many_arguments_is_an_expression_error():
    # Given
    expr = "to_iso(v, 'UTC', 'x')"
    # When / Then
    with pytest.raises(jmespath.exceptions.ArityError):
        _call(expr, 1)
    assert "to_iso() takes 1 to 2 arguments, got 3" in (validate_expression(expr) or "")


def test_search_is_thread_safe_across_channel_timezones():
    # Given several channels with different zones evaluated at once
    zones = {"Europe/Kyiv": EXPECTED, "UTC": "2026-11-25T03:10:23Z", "Asia/Kolkata": "2026-11-24T21:40:23Z"}
    results: dict[str, set[str | None]] = {zone: set() for zone in zones}

    def work(zone: str) -> None:
        for _ in range(200):
            results[zone].add(_call("to_iso(v)", "2026-11-25 03:10:23", timezone=zone))

    # When
    threads = [threading.Thread(target=work, args=(zone,)) for zone in zones for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then
    assert results == {zone: {expected} for zone, expected in zones.items()}


def test_parse_time_keeps_sub_seconds_for_arithmetic():
    # Given / When
    moment = parse_time("2026-11-25T01:10:23.250Z", None)
    # Then
    assert moment == datetime(2026, 11, 25, 1, 10, 23, 250000, tzinfo=UTC)


# --- durations --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (42, 42),
        ("42", 42),
        (" 42 ", 42),
        (42.4, 42),
        (42.5, 43),
        ("42.5", 43),
        ("01:02:03", 3723),
        ("1:02:03", 3723),
        ("02:03", 123),
        ("125:03", 7503),
        ("00:00:41.6", 42),
        (0, 0),
    ],
)
def test_to_seconds_reads_numbers_strings_and_clocks(value, seconds):
    # Given a duration as a provider sends it
    # When / Then
    assert _call("to_seconds(v)", value) == seconds


@pytest.mark.parametrize("value", ["x", "1:2:3:4", "01:75", "01:02:75", "", True, [1], {"a": 1}, "1e400", 1e300])
def test_to_seconds_gives_null_for_unreadable_values(value):
    # Given / When / Then
    assert _call("to_seconds(v)", value) is None


@pytest.mark.parametrize(("value", "seconds"), [(42000, 42), ("42000", 42), (42499, 42), (42500, 43), (500, 1)])
def test_ms_to_seconds_reads_milliseconds_rounding_half_up(value, seconds):
    # Given Dialpad's or Genesys' durations in milliseconds
    # When / Then
    assert _call("ms_to_seconds(v)", value) == seconds


def test_ms_to_seconds_gives_null_for_text():
    # Given / When / Then
    assert _call("ms_to_seconds(v)", "forty two") is None


@pytest.mark.parametrize(
    ("start", "end", "seconds"),
    [
        (1795569023, 1795569065, 42),
        ("1795569023", "1795569065", 42),
        (1795569023000, 1795569065499, 42),
        (1795569023000, 1795569065500, 43),
        ("2026-11-25T01:10:23.000000Z", "2026-11-25T01:11:05.000000Z", 42),
        ("2026-11-25T01:10:23Z", "Wed, 25 Nov 2026 01:11:05 +0000", 42),
        ("2026-11-25 01:11:05", "2026-11-25 01:10:23", -42),
    ],
)
def test_seconds_between_subtracts_any_time_forms(start, end, seconds):
    # Given a provider that sends start and end instead of a duration (Telnyx, Mango, Amazon Connect)
    # When / Then
    assert search("seconds_between(a, b)", {"a": start, "b": end}) == seconds


def test_seconds_between_reads_zoneless_times_in_the_channel_timezone():
    # Given a start with an offset and a zoneless end in Kyiv
    data = {"a": "2026-11-25T01:10:23Z", "b": "2026-11-25 03:11:05"}
    # When / Then
    assert search("seconds_between(a, b)", data, timezone="Europe/Kyiv") == 42


def test_seconds_between_gives_null_when_a_time_is_missing_or_unreadable():
    # Given / When / Then
    assert search("seconds_between(a, b)", {"a": 1795569023}) is None
    assert search("seconds_between(a, b)", {"a": 1795569023, "b": "soon"}) is None
    assert seconds_between("x", 1, None) is None


# --- map_value and from_json ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "inbound"), ("0", "inbound"), (1, "outbound"), ("1", "outbound"), (1.0, "outbound"), (" 1 ", "outbound")],
)
def test_map_value_compares_keys_as_strings(value, expected):
    # Given Mango's or Binotel's direction codes
    expr = 'map_value(v, `{"0": "inbound", "1": "outbound"}`)'
    # When / Then
    assert _call(expr, value) == expected


def test_map_value_reads_boolean_keys_as_json_text():
    # Given / When / Then
    assert _call('map_value(v, `{"true": "answered"}`)', True) == "answered"


@pytest.mark.parametrize("value", [2, "2", None, [0], {"0": 1}])
def test_map_value_gives_null_without_a_match(value):
    # Given / When / Then
    assert _call('map_value(v, `{"0": "inbound", "1": "outbound"}`)', value) is None


def test_map_value_gives_null_when_the_table_is_not_an_object():
    # Given
    problems: list[str] = []
    # When
    mapped = _call("map_value(v, `[1, 2]`)", 0, problems=problems)
    # Then
    assert mapped is None
    assert "must be an object" in problems[0]


def test_from_json_parses_an_embedded_document():
    # Given Mango Office's json= field
    data = {"json": '{"entry_id": "MTAx", "call_direction": 1, "from": {"number": "380441234567"}}'}
    # When / Then
    assert search("from_json(json).from.number", data) == "380441234567"


@pytest.mark.parametrize("value", ["{not json", "", '{"a": 1} trailing', "[" * 100_000])
def test_from_json_gives_null_for_invalid_documents(value):
    # Given / When / Then
    assert _call("from_json(v)", value) is None


def test_from_json_returns_already_decoded_values_unchanged():
    # Given the same provider sending the field as JSON proper
    # When / Then
    assert _call("from_json(v).a", {"a": 1}) == 1


# --- expressions ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr",
    [
        "CallSid",
        "callDetails.generalCallID",
        "to_iso(Timestamp)",
        "to_iso(time, 'Europe/Kyiv')",
        'map_value(callType, `{"0": "inbound"}`)',
        "seconds_between(a, b) || to_seconds(duration)",
        "from_json(json).entry_id",
        "length(items)",
    ],
)
def test_validate_expression_accepts_valid_expressions(expr):
    # Given / When / Then
    assert validate_expression(expr) is None


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("a[", "Incomplete expression"),
        ("", "cannot be empty"),
        ("to_isoo(a)", "unknown function to_isoo()"),
        ("to_iso()", "to_iso() takes 1 to 2 arguments, got 0"),
        ("map_value(a)", "map_value() takes 2 arguments, got 1"),
        ("from_json(a, b)", "from_json() takes 1 argument, got 2"),
        ("(" * 5000, "nested too deeply"),
    ],
)
def test_validate_expression_explains_what_is_wrong(expr, fragment):
    # Given / When
    problem = validate_expression(expr)
    # Then
    assert problem is not None
    assert fragment in problem


def test_compile_expression_caches_parsed_expressions():
    # Given / When / Then
    assert compile_expression("data.id") is compile_expression("data.id")


@pytest.mark.parametrize(("name", "ok"), [("Europe/Kyiv", True), ("UTC", True), ("+03:00", True), ("Mars/X", False)])
def test_validate_timezone_accepts_iana_names_and_offsets(name, ok):
    # Given / When / Then
    assert (validate_timezone(name) is None) is ok
