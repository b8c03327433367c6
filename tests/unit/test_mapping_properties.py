"""Property tests: whatever a provider (or an attacker) sends, mapping raises only its documented errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote, urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callhook.errors import ChannelMisconfiguredError, UnreadableBodyError, UnsupportedContentTypeError
from callhook.mapping import (
    evaluate_condition,
    format_iso,
    map_telephony,
    merge_fill_empty,
    nest_pairs,
    parse_body,
    parse_query,
    parse_time,
    search,
    to_seconds,
    validate_expression,
)
from callhook.models.call import CANONICAL_FIELDS, MappingWarning, Telephony

# No example database: the suite must not write into the repository.
PROPERTY = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
DOCUMENTED = (UnreadableBodyError, UnsupportedContentTypeError)


def _storable(parsed: dict) -> bool:
    """What DynamoDB and the dialog JSON need: standard JSON, encodable as UTF-8."""
    json.dumps(parsed, allow_nan=False, ensure_ascii=False).encode("utf-8")
    return True


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=8)
key_parts = st.text(alphabet="ab0123[]_ ", max_size=12)
pair_lists = st.lists(st.tuples(key_parts | st.text(max_size=10), st.text(max_size=10)), max_size=12)
charsets = st.sampled_from(
    [
        "utf-8",
        "UTF-8",
        "windows-1251",
        "cp1251",
        "latin-1",
        "iso-8859-1",
        "koi8-r",
        "utf-16",
        "utf-7",
        "ascii",
        "shift_jis",
        "big5",
        "base64",
        "rot13",
        "zlib",
        "idna",
        "unicode_escape",
        "undefined",
        "nope",
        "",
        '"utf-8"',
    ]
)
content_types = (
    st.none()
    | st.sampled_from(["", "application/json", "text/json", "application/x+json", "text/plain", "multipart/form-data"])
    | st.builds(lambda charset: f"application/x-www-form-urlencoded; charset={charset}", charsets)
    | st.builds(lambda charset: f"application/json;charset={charset}", charsets)
    | st.text(max_size=40)
)
expressions = st.sampled_from(
    [
        "call_id",
        "a.b",
        "to_iso(a)",
        "to_iso(a, b)",
        "to_seconds(a)",
        "ms_to_seconds(a)",
        "seconds_between(a, b)",
        "map_value(a, b)",
        'map_value(a, `{"0": "inbound", "1": "outbound"}`)',
        "from_json(a)",
        "from_json(a).b",
        "a[0]",
        "a[*].b | [0]",
        "length(a)",
        "ceil(a)",
        "avg(a)",
        "sort(a)",
        "to_number(a)",
        "join(',', a)",
        "a || b",
        "a == b",
        "[a, b]",
        "{x: a}",
        "a[",
        "unknown(a)",
    ]
)
field_mappings = st.dictionaries(st.sampled_from([*CANONICAL_FIELDS, "extra"]), expressions | st.text(max_size=12))


@PROPERTY
@given(body=st.binary(max_size=300), content_type=content_types)
def test_parse_body_raises_only_documented_errors_on_arbitrary_bytes(body, content_type):
    # Given arbitrary bytes under an arbitrary content type
    # When
    try:
        parsed = parse_body(body, content_type)
    except DOCUMENTED:
        return
    # Then
    assert isinstance(parsed, dict)
    assert _storable(parsed)


@PROPERTY
@given(document=json_values, content_type=content_types, charset=charsets)
def test_parse_body_raises_only_documented_errors_on_json_like_bodies(document, content_type, charset):
    # Given a JSON document, perhaps in an odd encoding
    text = json.dumps(document)
    try:
        body = text.encode(charset.strip('"') or "utf-8")
    except (LookupError, UnicodeError):
        body = text.encode()
    # When
    try:
        parsed = parse_body(body, content_type)
    except DOCUMENTED:
        return
    # Then
    assert isinstance(parsed, dict)
    assert _storable(parsed)


@PROPERTY
@given(pairs=pair_lists, charset=charsets)
def test_parse_body_raises_only_documented_errors_on_forms_in_any_charset(pairs, charset):
    # Given a form percent-encoded in some charset
    try:
        body = "&".join(f"{quote(k, encoding=charset)}={quote(v, encoding=charset)}" for k, v in pairs).encode()
    except (LookupError, UnicodeError, TypeError):
        body = urlencode(pairs).encode()
    # When
    try:
        parsed = parse_body(body, f"application/x-www-form-urlencoded; charset={charset}")
    except DOCUMENTED:
        return
    # Then
    assert isinstance(parsed, dict)
    assert _storable(parsed)


@PROPERTY
@given(pairs=pair_lists)
def test_parse_body_of_a_utf8_form_equals_nest_pairs(pairs):
    # Given / When
    parsed = parse_body(urlencode(pairs).encode(), "application/x-www-form-urlencoded")
    # Then
    assert parsed == nest_pairs(pairs)


@PROPERTY
@given(query=st.text(max_size=60))
def test_parse_query_raises_only_documented_errors(query):
    # Given / When
    try:
        parsed = parse_query(query)
    except UnreadableBodyError:
        return
    # Then
    assert isinstance(parsed, dict)


@PROPERTY
@given(pairs=pair_lists)
def test_nest_pairs_never_raises_and_keeps_every_base_name(pairs):
    # Given / When
    nested = nest_pairs(pairs)
    # Then every named pair lands under its base name or its literal key (a pair without a name is dropped)
    assert isinstance(nested, dict)
    for key, _ in pairs:
        if not key:
            continue
        base = key.split("[", 1)[0]
        assert key in nested or base in nested


@PROPERTY
@given(pairs=st.lists(st.tuples(st.text(alphabet="abc_0123 .", max_size=6), st.text(max_size=5)), max_size=10))
def test_nest_pairs_without_brackets_is_a_dict_with_last_values(pairs):
    # Given plain keys / When / Then (a pair without a name is dropped)
    assert nest_pairs(pairs) == {key: value for key, value in pairs if key}


@PROPERTY
@given(values=st.lists(st.text(max_size=5), min_size=1, max_size=10))
def test_nest_pairs_appends_in_order(values):
    # Given / When / Then
    assert nest_pairs([("a[]", value) for value in values]) == {"a": values}


@PROPERTY
@given(body=json_objects, field_mapping=field_mappings, timezone=st.none() | st.sampled_from(["Europe/Kyiv", "Bad/Z"]))
def test_map_telephony_never_raises(body, field_mapping, timezone):
    # Given an arbitrary JSON-like body and mapping
    # When
    telephony, warnings = map_telephony(body, field_mapping, timezone=timezone, default_region="UA")
    # Then
    assert telephony is None or (isinstance(telephony, Telephony) and telephony.raw == body and telephony.call_id)
    assert all(isinstance(warning, MappingWarning) and warning.field in CANONICAL_FIELDS for warning in warnings)
    if telephony is not None:
        telephony.model_dump_json()


@PROPERTY
@given(values=st.dictionaries(st.sampled_from(CANONICAL_FIELDS), json_values, min_size=1))
def test_map_telephony_with_canonical_names_never_raises(values):
    # Given a body that uses the canonical names directly
    # When
    telephony, warnings = map_telephony(values, {}, default_region="US")
    # Then
    assert telephony is not None or any(warning.field == "call_id" for warning in warnings)


@PROPERTY
@given(
    expr=st.sampled_from(
        [
            "to_iso(v)",
            "to_iso(v, w)",
            "to_seconds(v)",
            "ms_to_seconds(v)",
            "seconds_between(v, w)",
            "map_value(v, w)",
            "from_json(v)",
        ]
    ),
    v=json_values | st.text(alphabet="0123456789:-.+TZ ,", max_size=30),
    w=json_values | st.sampled_from(["Europe/Kyiv", "+03:00", "Nope/Zone", "../x", "", {"0": "a"}]),
    timezone=st.none() | st.text(max_size=12) | st.sampled_from(["Europe/Kyiv", "+05:30"]),
)
def test_functions_never_raise_on_arbitrary_data(expr, v, w, timezone):
    # Given / When
    search(expr, {"v": v, "w": w}, timezone=timezone, problems=[])


@PROPERTY
@given(value=json_values | st.text(max_size=40), tz=st.none() | st.text(max_size=20))
def test_parse_time_gives_utc_or_none(value, tz):
    # Given / When
    moment = parse_time(value, tz)
    # Then
    assert moment is None or moment.utcoffset() is not None


@PROPERTY
@given(moment=st.datetimes(min_value=datetime(1974, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)))
def test_to_iso_agrees_across_time_forms(moment):
    # Given one instant written in every supported form (units by magnitude: ms times start after 1973-03-03)
    whole = moment.replace(microsecond=0)
    seconds = int(whole.timestamp())
    forms = [seconds, str(seconds), seconds * 1000, seconds * 1_000_000, format_datetime(whole), whole.isoformat()]
    # When / Then
    assert {search("to_iso(v)", {"v": form}) for form in forms} == {format_iso(whole)}


@PROPERTY
@given(h=st.integers(0, 99), m=st.integers(0, 59), s=st.integers(0, 59))
def test_to_seconds_reads_clocks(h, m, s):
    # Given / When / Then
    assert to_seconds(f"{h:02d}:{m:02d}:{s:02d}") == h * 3600 + m * 60 + s


@PROPERTY
@given(expr=st.text(max_size=40))
def test_validate_expression_never_raises(expr):
    # Given / When / Then
    assert validate_expression(expr) is None or isinstance(validate_expression(expr), str)


@PROPERTY
@given(expr=expressions | st.text(max_size=20), body=json_objects)
def test_evaluate_condition_raises_only_for_invalid_expressions(expr, body):
    # Given / When
    try:
        result = evaluate_condition(expr, body)
    except ChannelMisconfiguredError:
        assert validate_expression(expr) is not None
        return
    # Then
    assert isinstance(result, bool)


@PROPERTY
@given(current=json_objects, update=json_objects)
def test_merge_fill_empty_never_overwrites_a_value(current, update):
    # Given / When
    fill = merge_fill_empty(current, update)
    # Then
    assert set(fill) <= set(update)
    assert all(current.get(key) in (None, "", [], {}) or str(current.get(key)).strip() == "" for key in fill)
