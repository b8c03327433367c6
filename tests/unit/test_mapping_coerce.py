"""map_telephony / evaluate_condition / merge_fill_empty, on payloads shaped like real providers' webhooks."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from callhook.errors import ChannelMisconfiguredError
from callhook.mapping import evaluate_condition, map_telephony, merge_fill_empty, parse_body, parse_query
from callhook.models.call import Direction, MappingWarning, Telephony

FORM = "application/x-www-form-urlencoded"


def _fields(warnings: list[MappingWarning]) -> list[str]:
    return [warning.field for warning in warnings]


# --- providers ------------------------------------------------------------------------------------------------


def test_map_telephony_maps_a_twilio_like_form():
    # Given Twilio's status callback and the mapping of docs/items.md's example
    body = parse_body(
        urlencode(
            {
                "CallSid": "CA1234567890ABCDE",
                "From": "+12349013030",
                "To": "+18005551212",
                "Direction": "outbound-api",
                "CallStatus": "completed",
                "CallDuration": "42",
                "Timestamp": "Wed, 25 Nov 2026 01:10:23 +0000",
            }
        ).encode(),
        FORM,
    )
    mapping = {
        "call_id": "CallSid",
        "caller": "From",
        "callee": "To",
        "direction": "Direction",
        "duration": "CallDuration",
        "status": "CallStatus",
        "started_at": "to_iso(Timestamp)",
    }
    # When
    telephony, warnings = map_telephony(body, mapping)
    # Then
    assert warnings == []
    assert telephony == Telephony(
        call_id="CA1234567890ABCDE",
        direction=Direction.OUTBOUND,
        caller="+12349013030",
        callee="+18005551212",
        started_at="2026-11-25T01:10:23Z",
        duration=42,
        status="completed",
        raw=body,
    )


def test_map_telephony_maps_an_aircall_like_json_body():
    # Given Aircall's call.ended: an integer id and unix seconds
    body = {
        "event": "call.ended",
        "token": "t",
        "data": {
            "id": 812345,
            "direction": "inbound",
            "started_at": 1795569023,
            "duration": 42,
            "raw_digits": "+33 1 23 45 67 89",
            "user": {"email": " Ann@Example.com "},
            "recording": "https://recordings.example.com/812345.mp3",
        },
    }
    mapping = {
        "call_id": "data.id",
        "direction": "data.direction",
        "started_at": "data.started_at",
        "duration": "data.duration",
        "caller": "data.raw_digits",
        "operator_email": "data.user.email",
        "recording_url": "data.recording",
    }
    # When
    telephony, warnings = map_telephony(body, mapping)
    # Then
    assert warnings == []
    assert telephony is not None
    assert telephony.call_id == "812345"
    assert telephony.direction is Direction.INBOUND
    assert telephony.started_at == "2026-11-25T01:10:23Z"
    assert telephony.duration == 42
    assert telephony.caller == "+33123456789"
    assert telephony.operator_email == "Ann@Example.com"
    assert telephony.recording_url == "https://recordings.example.com/812345.mp3"


def test_map_telephony_maps_a_mango_like_json_form_field():
    # Given Mango Office: the call is a JSON string in the json= form field
    call = {
        "entry_id": "MTAxMjM0NTY3OA==",
        "call_direction": 1,
        "from": {"number": "380441234567", "extension": "101"},
        "to": {"number": "380501234567"},
        "create_time": 1795569023,
        "end_time": 1795569065,
    }
    body = parse_body(urlencode({"vpbx_api_key": "k", "sign": "s", "json": json.dumps(call)}).encode(), FORM)
    mapping = {
        "call_id": "from_json(json).entry_id",
        "direction": 'map_value(from_json(json).call_direction, `{"1": "inbound", "2": "outbound"}`)',
        "caller": "from_json(json).from.number",
        "callee": "from_json(json).to.number",
        "started_at": "from_json(json).create_time",
        "duration": "seconds_between(from_json(json).create_time, from_json(json).end_time)",
        "operator_ext": "from_json(json).from.extension",
    }
    # When
    telephony, warnings = map_telephony(body, mapping, default_region="UA")
    # Then
    assert warnings == []
    assert telephony is not None
    assert telephony.call_id == "MTAxMjM0NTY3OA=="
    assert telephony.direction is Direction.INBOUND
    assert (telephony.caller, telephony.callee) == ("+380441234567", "+380501234567")
    assert telephony.started_at == "2026-11-25T01:10:23Z"
    assert telephony.duration == 42
    assert telephony.operator_ext == "101"


def test_map_telephony_maps_dialpad_like_millisecond_times():
    # Given Dialpad: integer call id, epoch ms and ms durations
    body = {
        "call_id": 6543210987654321,
        "direction": "outbound",
        "date_started": 1795569023456,
        "duration": 42499.0,
        "external_number": "+14155550123",
        "internal_number": "+14155550999",
        "target": {"email": "ann@example.com"},
    }
    mapping = {
        "started_at": "date_started",
        "duration": "ms_to_seconds(duration)",
        "caller": "internal_number",
        "callee": "external_number",
        "operator_email": "target.email",
    }
    # When
    telephony, warnings = map_telephony(body, mapping)
    # Then
    assert warnings == []
    assert telephony is not None
    assert telephony.call_id == "6543210987654321"
    assert telephony.started_at == "2026-11-25T01:10:23Z"
    assert telephony.duration == 42
    assert telephony.direction is Direction.OUTBOUND


def test_map_telephony_maps_a_binotel_like_bracket_form():
    # Given Binotel's PHP bracket keys and 0/1 call types
    body = parse_body(
        urlencode(
            {
                "callDetails[generalCallID]": "3735964071",
                "callDetails[callType]": "0",
                "callDetails[startTime]": "1795569023",
                "callDetails[billsec]": "42",
                "callDetails[externalNumber]": "0441234567",
                "callDetails[internalNumber]": "901",
                "callDetails[employeeData][email]": "ann@example.com",
            }
        ).encode(),
        FORM,
    )
    mapping = {
        "call_id": "callDetails.generalCallID",
        "direction": 'map_value(callDetails.callType, `{"0": "inbound", "1": "outbound"}`)',
        "started_at": "callDetails.startTime",
        "duration": "callDetails.billsec",
        "caller": "callDetails.externalNumber",
        "callee": "callDetails.internalNumber",
        "operator_email": "callDetails.employeeData.email",
        "operator_ext": "callDetails.internalNumber",
    }
    # When
    telephony, warnings = map_telephony(body, mapping, default_region="UA")
    # Then
    assert warnings == []
    assert telephony is not None
    assert telephony.model_dump(exclude={"raw"}) == {
        "call_id": "3735964071",
        "direction": Direction.INBOUND,
        "caller": "+380441234567",
        "callee": "901",
        "started_at": "2026-11-25T01:10:23Z",
        "duration": 42,
        "status": None,
        "recording_url": None,
        "operator_email": "ann@example.com",
        "operator_ext": "901",
    }


def test_map_telephony_reads_a_zadarma_like_zoneless_time_in_the_channel_timezone():
    # Given Zadarma's NOTIFY_END with a zoneless call_start
    body = {"event": "NOTIFY_END", "pbx_call_id": "in_0a1b2c", "call_start": "2026-11-25 03:10:23", "duration": "42"}
    mapping = {
        "call_id": "pbx_call_id",
        "started_at": "call_start",
        "direction": 'map_value(event, `{"NOTIFY_END": "inbound", "NOTIFY_OUT_END": "outbound"}`)',
    }
    # When
    telephony, warnings = map_telephony(body, mapping, timezone="Europe/Kyiv")
    # Then
    assert warnings == []
    assert telephony is not None
    assert telephony.started_at == "2026-11-25T01:10:23Z"
    assert telephony.direction is Direction.INBOUND
    assert telephony.duration == 42


@pytest.mark.parametrize("transport", ["json", "form", "query"])
def test_map_telephony_gives_the_same_telephony_for_json_form_and_query(transport):
    # Given the same logical call sent three ways
    logical = {"call": {"id": "c-42", "from": "+12349013030", "duration": "42"}, "direction": "incoming"}
    flat = {"call[id]": "c-42", "call[from]": "+12349013030", "call[duration]": "42", "direction": "incoming"}
    if transport == "json":
        body = parse_body(json.dumps(logical).encode(), "application/json")
    elif transport == "form":
        body = parse_body(urlencode(flat).encode(), FORM)
    else:
        body = parse_query(urlencode(flat))
    mapping = {"call_id": "call.id", "caller": "call.from", "duration": "call.duration"}
    # When
    telephony, warnings = map_telephony(body, mapping)
    # Then
    assert warnings == []
    assert telephony is not None
    assert telephony.canonical() == {
        "call_id": "c-42",
        "caller": "+12349013030",
        "duration": 42,
        "direction": "inbound",
    }


# --- field rules ------------------------------------------------------------------------------------------------


def test_map_telephony_reads_unmapped_fields_by_their_canonical_name():
    # Given a provider (or a bridge) that already sends canonical names
    body = {"call_id": 123, "direction": "OUT", "duration": "01:02:03", "status": " answered ", "operator_ext": 101}
    # When
    telephony, warnings = map_telephony(body, {})
    # Then
    assert warnings == []
    assert telephony is not None
    assert telephony.canonical() == {
        "call_id": "123",
        "direction": "outbound",
        "duration": 3723,
        "status": "answered",
        "operator_ext": "101",
    }
    assert telephony.raw == body


def test_map_telephony_skips_fields_mapped_to_an_empty_expression():
    # Given an admin who turned a field off
    body = {"call_id": "c-1", "status": "completed"}
    # When
    telephony, warnings = map_telephony(body, {"status": ""})
    # Then
    assert warnings == []
    assert telephony is not None
    assert telephony.status is None


@pytest.mark.parametrize("body", [{}, {"call_id": ""}, {"call_id": "   "}, {"call_id": None}])
def test_map_telephony_gives_no_telephony_without_a_call_id(body):
    # Given
    # When
    telephony, warnings = map_telephony(body, {"status": "status"})
    # Then
    assert telephony is None
    assert _fields(warnings) == ["call_id"]


def test_map_telephony_names_the_mapping_when_call_id_is_missing():
    # Given
    body = {"CallSid": None}
    # When
    telephony, warnings = map_telephony(body, {"call_id": "CallSid"})
    # Then
    assert telephony is None
    assert "'CallSid'" in warnings[0].reason


@pytest.mark.parametrize(("value", "call_id"), [(42, "42"), (42.0, "42"), ("  c-1 ", "c-1"), (1.5, "1.5")])
def test_map_telephony_turns_call_id_numbers_into_strings(value, call_id):
    # Given / When
    telephony, _ = map_telephony({"id": value}, {"call_id": "id"})
    # Then
    assert telephony is not None
    assert telephony.call_id == call_id


@pytest.mark.parametrize(
    ("raw", "direction"),
    [
        ("in", Direction.INBOUND),
        ("IN", Direction.INBOUND),
        ("incoming", Direction.INBOUND),
        ("Inbound", Direction.INBOUND),
        ("INBOUND", Direction.INBOUND),
        (" inbound ", Direction.INBOUND),
        ("out", Direction.OUTBOUND),
        ("OUT", Direction.OUTBOUND),
        ("outgoing", Direction.OUTBOUND),
        ("Outbound", Direction.OUTBOUND),
        ("outbound-api", Direction.OUTBOUND),
        ("outbound-dial", Direction.OUTBOUND),
        ("Outbound_Dial", Direction.OUTBOUND),
    ],
)
def test_map_telephony_reads_direction_synonyms(raw, direction):
    # Given
    body = {"call_id": "c-1", "direction": raw}
    # When
    telephony, warnings = map_telephony(body, {})
    # Then
    assert warnings == []
    assert telephony is not None
    assert telephony.direction is direction


@pytest.mark.parametrize("raw", ["sideways", "Missed", "TRANSFER", "0", 1, "in-redirect"])
def test_map_telephony_warns_about_unknown_directions(raw):
    # Given a code the admin has not translated with map_value
    body = {"call_id": "c-1", "direction": raw}
    # When
    telephony, warnings = map_telephony(body, {})
    # Then
    assert telephony is not None
    assert telephony.direction is None
    assert _fields(warnings) == ["direction"]
    assert "map_value" in warnings[0].reason


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+12349013030", None, "+12349013030"),
        ("+1 (234) 901-3030", None, "+12349013030"),
        ("+380 44 123 45 67", "US", "+380441234567"),
        ("0441234567", "UA", "+380441234567"),
        ("044 123-45-67", "ua", "+380441234567"),
        ("(202) 555-0123", "US", "+12025550123"),
        ("380441234567", None, "+380441234567"),
        ("380441234567", "US", "+380441234567"),
        (380441234567, None, "+380441234567"),
        ("0441234567", None, "0441234567"),
        ("101", None, "101"),
        ("101", "UA", "101"),
        ("5550123", "US", "5550123"),
        ("sip:101@pbx.example.com", "UA", "sip:101@pbx.example.com"),
        ("anonymous", "US", "anonymous"),
        ("Restricted", None, "Restricted"),
        ("+", None, "+"),
    ],
)
def test_map_telephony_normalizes_phone_numbers_to_e164_where_possible(raw, region, expected):
    # Given
    body = {"call_id": "c-1", "caller": raw, "callee": raw}
    # When
    telephony, warnings = map_telephony(body, {}, default_region=region)
    # Then numbers that are not phone numbers are kept as sent, without a warning
    assert warnings == []
    assert telephony is not None
    assert (telephony.caller, telephony.callee) == (expected, expected)


def test_map_telephony_strips_text_fields_and_keeps_them_as_sent():
    # Given
    body = {
        "call_id": "c-1",
        "status": " No-Answer ",
        "recording_url": " https://r.example.com/a.mp3 ",
        "operator_email": " Ann@Example.COM",
        "operator_ext": 101.0,
    }
    # When
    telephony, warnings = map_telephony(body, {})
    # Then
    assert warnings == []
    assert telephony is not None
    assert telephony.status == "No-Answer"
    assert telephony.recording_url == "https://r.example.com/a.mp3"
    assert telephony.operator_email == "Ann@Example.COM"
    assert telephony.operator_ext == "101"


# --- warnings -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["caller", "callee", "status", "recording_url", "operator_email", "operator_ext"])
@pytest.mark.parametrize("value", [{"a": 1}, [1, 2], True])
def test_map_telephony_warns_about_values_of_a_wrong_shape(field, value):
    # Given
    body = {"call_id": "c-1", field: value}
    # When
    telephony, warnings = map_telephony(body, {})
    # Then
    assert telephony is not None
    assert getattr(telephony, field) is None
    assert _fields(warnings) == [field]
    assert "expected a single value" in warnings[0].reason


def test_map_telephony_warns_about_a_call_id_of_a_wrong_shape_and_gives_no_telephony():
    # Given
    body = {"call_id": {"id": 1}}
    # When
    telephony, warnings = map_telephony(body, {})
    # Then
    assert telephony is None
    assert _fields(warnings) == ["call_id"]
    assert warnings[0].value == "{'id': 1}"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("duration", "forty two", "not a duration"),
        ("duration", -5, "negative"),
        ("duration", "1:99", "not a duration"),
        ("started_at", "yesterday", "not a time"),
        ("started_at", "2026-02-30 10:00:00", "not a time"),
    ],
)
def test_map_telephony_warns_about_values_that_cannot_be_coerced(field, value, reason):
    # Given
    body = {"call_id": "c-1", field: value}
    # When
    telephony, warnings = map_telephony(body, {})
    # Then
    assert telephony is not None
    assert getattr(telephony, field) is None
    assert warnings == [MappingWarning(field=field, value=value, reason=warnings[0].reason)]
    assert reason in warnings[0].reason


def test_map_telephony_names_an_unknown_channel_timezone_in_the_warning():
    # Given a channel whose timezone is misspelt and a zoneless time
    body = {"call_id": "c-1", "started_at": "2026-11-25 03:10:23"}
    # When
    telephony, warnings = map_telephony(body, {}, timezone="Europe/Kiev-ish")
    # Then
    assert telephony is not None
    assert telephony.started_at is None
    assert "unknown timezone 'Europe/Kiev-ish'" in warnings[0].reason


def test_map_telephony_warns_when_a_function_cannot_read_its_value():
    # Given to_iso returns null for garbage; the warning says why
    body = {"call_id": "c-1", "Timestamp": "not a time"}
    # When
    telephony, warnings = map_telephony(body, {"started_at": "to_iso(Timestamp)"})
    # Then
    assert telephony is not None
    assert telephony.started_at is None
    assert _fields(warnings) == ["started_at"]
    assert "to_iso: cannot read 'not a time' as a time" in warnings[0].reason


def test_map_telephony_warns_about_an_expression_that_fails_at_runtime():
    # Given a JMESPath type error: length() of a number
    body = {"call_id": "c-1", "items": 5}
    # When
    telephony, warnings = map_telephony(body, {"duration": "length(items)", "status": "ceil(`1e400`)"})
    # Then
    assert telephony is not None
    assert _fields(warnings) == ["duration", "status"]
    assert "length()" in warnings[0].reason


def test_map_telephony_warns_about_an_invalid_expression():
    # Given a channel that slipped past validation
    body = {"call_id": "c-1"}
    # When
    telephony, warnings = map_telephony(body, {"status": "a[", "caller": "nope(a)"})
    # Then
    assert telephony is not None
    assert _fields(warnings) == ["caller", "status"]


def test_map_telephony_truncates_long_values_in_warnings():
    # Given
    body = {"call_id": "c-1", "direction": "x" * 10_000, "caller": {"k": "y" * 10_000}}
    # When
    _, warnings = map_telephony(body, {})
    # Then
    assert all(len(str(warning.value)) <= 203 for warning in warnings)
    assert all(len(warning.reason) < 400 for warning in warnings)


# --- conditions -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("CallStatus == 'completed'", True),
        ("CallStatus == 'ringing'", False),
        ("flag", False),
        ("missing", False),
        ("empty_text", False),
        ("empty_list", False),
        ("empty_object", False),
        ("zero", True),
        ("blank", True),
        ("to_seconds(CallDuration) > `0`", True),
    ],
)
def test_evaluate_condition_uses_jmespath_truthiness(expr, expected):
    # Given
    body = {
        "CallStatus": "completed",
        "CallDuration": "42",
        "flag": False,
        "empty_text": "",
        "empty_list": [],
        "empty_object": {},
        "zero": 0,
        "blank": " ",
    }
    # When / Then
    assert evaluate_condition(expr, body) is expected


@pytest.mark.parametrize("expr", [None, "", "  "])
def test_evaluate_condition_gives_the_default_without_a_condition(expr):
    # Given / When / Then
    assert evaluate_condition(expr, {}) is True
    assert evaluate_condition(expr, {}, default=False) is False


def test_evaluate_condition_reads_times_in_the_channel_timezone():
    # Given
    body = {"at": "2026-11-25 03:10:23"}
    expr = "to_iso(at) == '2026-11-25T01:10:23Z'"
    # When / Then
    assert evaluate_condition(expr, body, timezone="Europe/Kyiv") is True
    assert evaluate_condition(expr, body) is False


def test_evaluate_condition_is_false_when_the_expression_fails_on_this_body():
    # Given
    body = {"items": 5}
    # When / Then
    assert evaluate_condition("length(items) > `0`", body) is False


def test_evaluate_condition_reports_an_invalid_expression_as_a_misconfigured_channel():
    # Given
    # When / Then
    with pytest.raises(ChannelMisconfiguredError, match="unknown function"):
        evaluate_condition("nope(a)", {})
    with pytest.raises(ChannelMisconfiguredError, match="must be a string"):
        evaluate_condition(True, {})  # type: ignore[arg-type]


# --- updates ----------------------------------------------------------------------------------------------------


def test_merge_fill_empty_fills_only_empty_fields():
    # Given a dialog without a recording, and a later event with one
    current = {"call_id": "c-1", "duration": 42, "recording_url": None, "status": "", "caller": "+1"}
    update = {
        "call_id": "c-1",
        "duration": 43,
        "recording_url": "https://r.example.com/a.mp3",
        "status": "completed",
        "callee": "+2",
        "caller": None,
        "operator_email": "",
    }
    # When
    fill = merge_fill_empty(current, update)
    # Then: no field is overwritten and none is blanked
    assert fill == {"recording_url": "https://r.example.com/a.mp3", "status": "completed", "callee": "+2"}


def test_merge_fill_empty_with_nothing_new_is_empty():
    # Given / When / Then
    assert merge_fill_empty({"a": 1}, {"a": 2, "b": None}) == {}
