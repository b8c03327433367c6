"""parse_body / parse_query / nest_pairs: every transport a provider uses gives the same kind of object."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest

from callhook.errors import UnreadableBodyError, UnsupportedContentTypeError
from callhook.mapping import MAX_DEPTH, nest_pairs, parse_body, parse_query

FORM = "application/x-www-form-urlencoded"


# --- JSON -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
        "application/vnd.provider.event+json",
        "text/json",
    ],
)
def test_parse_body_reads_json_content_types(content_type):
    # Given
    body = b'{"call_id": "c-1", "data": {"id": 7}}'
    # When
    parsed = parse_body(body, content_type)
    # Then
    assert parsed == {"call_id": "c-1", "data": {"id": 7}}


def test_parse_body_ignores_a_utf8_bom_in_json():
    # Given
    body = b"\xef\xbb\xbf" + '{"name": "Ганна"}'.encode()
    # When / Then
    assert parse_body(body, "application/json") == {"name": "Ганна"}


def test_parse_body_reads_json_in_its_declared_charset():
    # Given
    body = '{"name": "Ганна"}'.encode("cp1251")
    # When / Then
    assert parse_body(body, "application/json; charset=windows-1251") == {"name": "Ганна"}


@pytest.mark.parametrize(("body", "named"), [(b"[1, 2]", "an array"), (b'"x"', "a string"), (b"42", "a number")])
def test_parse_body_rejects_json_that_is_not_an_object(body, named):
    # Given a JSON document of another type
    # When / Then
    with pytest.raises(UnreadableBodyError, match=named):
        parse_body(body, "application/json")


def test_parse_body_reports_line_and_column_of_invalid_json():
    # Given
    body = b'{\n  "call_id": "c-1",\n  "x": }'
    # When
    with pytest.raises(UnreadableBodyError) as caught:
        parse_body(body, "application/json")
    # Then
    assert "line 3 column 8" in caught.value.message


def test_parse_body_rejects_json_nan():
    # Given Python's parser would accept NaN, which is not JSON and cannot be stored
    # When / Then
    with pytest.raises(UnreadableBodyError, match="NaN"):
        parse_body(b'{"duration": NaN}', "application/json")


def test_parse_body_rejects_json_nested_too_deeply():
    # Given
    body = b'{"a": ' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1)
    # When / Then
    with pytest.raises(UnreadableBodyError, match="nested deeper"):
        parse_body(body, "application/json")


def test_parse_body_reports_pathologically_nested_json_as_unreadable():
    # Given a body deep enough to exhaust the JSON parser's recursion
    body = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    # When / Then
    with pytest.raises(UnreadableBodyError):
        parse_body(body, "application/json")


def test_parse_body_replaces_unpaired_surrogate_escapes():
    # Given a JSON escape that cannot be encoded as UTF-8 later
    body = b'{"caller": "a\\ud800b", "ok": "\\ud83d\\ude00"}'
    # When
    parsed = parse_body(body, "application/json")
    # Then
    assert parsed == {"caller": "a\ufffdb", "ok": "\U0001f600"}


def test_parse_body_replaces_surrogates_a_lenient_charset_decodes_to():
    # Given UTF-7, whose decoder lets a lone surrogate through
    body = b"a=%2B2AA-"
    # When
    parsed = parse_body(body, f"{FORM}; charset=utf-7")
    # Then
    assert parsed == {"a": "\ufffd"}


def test_parse_body_rejects_json_bytes_invalid_in_utf8():
    # Given
    body = b'{"name": "\xff\xfe\xfa"}'
    # When / Then
    with pytest.raises(UnreadableBodyError, match="not valid"):
        parse_body(body, "application/json")


# --- empty bodies and content types -----------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "", "application/json", FORM, "text/plain"])
@pytest.mark.parametrize("body", [b"", b"  \r\n"])
def test_parse_body_gives_an_empty_object_for_an_empty_body(body, content_type):
    # Given an empty body, whatever the declared type
    # When / Then
    assert parse_body(body, content_type) == {}


def test_parse_body_sniffs_json_when_no_content_type_is_given():
    # Given a PBX bridge that forgets the header
    body = b'  {"call_id": "c-1"}'
    # When / Then
    assert parse_body(body, None) == {"call_id": "c-1"}


def test_parse_body_rejects_an_unknown_body_without_content_type():
    # Given
    body = b"call_id=c-1"
    # When / Then
    with pytest.raises(UnsupportedContentTypeError, match="application/x-www-form-urlencoded"):
        parse_body(body, None)


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x", "application/xml"])
def test_parse_body_rejects_other_content_types_naming_type_and_accepted_ones(content_type):
    # Given
    body = b'{"call_id": "c-1"}'
    # When
    with pytest.raises(UnsupportedContentTypeError) as caught:
        parse_body(body, content_type)
    # Then
    assert content_type.split(";")[0] in caught.value.message
    assert "application/json" in caught.value.message


# --- forms and charsets -----------------------------------------------------------------------------------------


def test_parse_body_reads_a_utf8_form():
    # Given
    body = urlencode({"CallSid": "CA1", "CallerName": "Ганна Петренко", "Note": "a+b&c"}).encode()
    # When / Then
    assert parse_body(body, FORM) == {"CallSid": "CA1", "CallerName": "Ганна Петренко", "Note": "a+b&c"}


def test_parse_body_reads_a_windows_1251_form():
    # Given a Russian/Ukrainian PBX posting in its platform charset
    body = b"call_id=c-1&name=" + quote("Иван Петров", encoding="cp1251").encode()
    # When
    parsed = parse_body(body, "application/x-www-form-urlencoded; charset=windows-1251")
    # Then
    assert parsed == {"call_id": "c-1", "name": "Иван Петров"}


def test_parse_body_reads_a_latin1_form_with_a_quoted_charset():
    # Given
    body = b"name=" + quote("José Müller", encoding="latin-1").encode()
    # When / Then
    assert parse_body(body, 'application/x-www-form-urlencoded; charset="ISO-8859-1"') == {"name": "José Müller"}


def test_parse_body_rejects_a_form_not_valid_in_its_charset():
    # Given windows-1251 bytes declared as UTF-8 (the default)
    body = b"name=" + quote("Иван", encoding="cp1251").encode()
    # When / Then
    with pytest.raises(UnreadableBodyError, match="not valid utf-8"):
        parse_body(body, FORM)


@pytest.mark.parametrize("charset", ["klingon-8", "base64", "rot13", "unicode_escape", "x" * 500])
def test_parse_body_rejects_unknown_or_non_text_charsets(charset):
    # Given
    body = b"a=1"
    # When / Then
    with pytest.raises(UnreadableBodyError, match="charset"):
        parse_body(body, f"{FORM}; charset={charset}")


def test_parse_body_keeps_blank_values_and_keys_without_equals():
    # Given
    body = b"a=&b&&c=1"
    # When / Then
    assert parse_body(body, FORM) == {"a": "", "b": "", "c": "1"}


def test_parse_query_reads_a_get_query_like_a_form():
    # Given
    query = "?call_id=c-1&data%5BCALL_ID%5D=x&name=%D0%93%D0%B0%D0%BD%D0%BD%D0%B0&token=t"
    # When
    parsed = parse_query(query)
    # Then
    assert parsed == {"call_id": "c-1", "data": {"CALL_ID": "x"}, "name": "Ганна", "token": "t"}


def test_parse_query_reads_an_empty_query():
    # Given / When / Then
    assert parse_query("") == {}


def test_parse_query_rejects_bytes_that_are_not_utf8():
    # Given
    query = "name=%FF"
    # When / Then
    with pytest.raises(UnreadableBodyError):
        parse_query(query)


# --- bracket keys ---------------------------------------------------------------------------------------------


def test_nest_pairs_nests_bracket_keys():
    # Given
    pairs = [("callDetails[employeeData][email]", "ann@example.com"), ("callDetails[billsec]", "42")]
    # When / Then
    assert nest_pairs(pairs) == {"callDetails": {"employeeData": {"email": "ann@example.com"}, "billsec": "42"}}


def test_nest_pairs_makes_lists_from_numeric_indices():
    # Given
    pairs = [("a[0]", "x"), ("a[1]", "y"), ("b[0][id]", "1"), ("b[1][id]", "2")]
    # When / Then
    assert nest_pairs(pairs) == {"a": ["x", "y"], "b": [{"id": "1"}, {"id": "2"}]}


def test_nest_pairs_orders_sparse_indices_and_closes_gaps():
    # Given
    pairs = [("a[5]", "five"), ("a[2]", "two"), ("a[9]", "nine")]
    # When / Then
    assert nest_pairs(pairs) == {"a": ["two", "five", "nine"]}


def test_nest_pairs_appends_empty_brackets():
    # Given
    pairs = [("a[]", "x"), ("a[]", "y"), ("b[3]", "p"), ("b[]", "q")]
    # When / Then
    assert nest_pairs(pairs) == {"a": ["x", "y"], "b": ["p", "q"]}


def test_nest_pairs_keeps_the_last_value_of_a_repeated_key():
    # Given a provider retrying a field within one body
    pairs = [("status", "ringing"), ("status", "completed"), ("a[b]", "1"), ("a[b]", "2"), ("l[0]", "x"), ("l[0]", "y")]
    # When / Then
    assert nest_pairs(pairs) == {"status": "completed", "a": {"b": "2"}, "l": ["y"]}


def test_nest_pairs_lets_a_later_nested_value_replace_a_scalar():
    # Given
    pairs = [("a", "1"), ("a[b]", "2")]
    # When / Then
    assert nest_pairs(pairs) == {"a": {"b": "2"}}


def test_nest_pairs_lets_a_later_scalar_replace_a_container():
    # Given
    pairs = [("a[b]", "2"), ("a", "1"), ("c[0]", "x"), ("c[0][d]", "y")]
    # When / Then
    assert nest_pairs(pairs) == {"a": "1", "c": [{"d": "y"}]}


def test_nest_pairs_mixes_indices_and_names_into_an_object():
    # Given
    pairs = [("a[0]", "x"), ("a[name]", "y"), ("b[007]", "z")]
    # When / Then
    assert nest_pairs(pairs) == {"a": {"0": "x", "name": "y"}, "b": {"007": "z"}}


@pytest.mark.parametrize("key", ["a[b", "a]b", "a[b]c", "[b]", "a[b[c]]", "a[b]]"])
def test_nest_pairs_keeps_malformed_keys_literally(key):
    # Given
    pairs = [(key, "1")]
    # When / Then
    assert nest_pairs(pairs) == {key: "1"}


def test_nest_pairs_keeps_a_too_deep_key_literally():
    # Given
    deep_key = "a" + "[b]" * MAX_DEPTH
    ok_key = "c" + "[d]" * (MAX_DEPTH - 2)
    # When
    nested = nest_pairs([(deep_key, "1"), (ok_key, "2")])
    # Then
    assert nested[deep_key] == "1"
    assert isinstance(nested["c"], dict)


def test_nest_pairs_does_not_allocate_a_list_for_a_huge_index():
    # Given a hostile body
    pairs = [("a[0]", "x"), ("a[999999999999]", "y"), ("b[10001]", "z")]
    # When
    nested = nest_pairs(pairs)
    # Then the huge indices are object keys
    assert nested == {"a": {"0": "x", "999999999999": "y"}, "b": {"10001": "z"}}


def test_nest_pairs_keeps_plain_keys_plain():
    # Given
    pairs = [("0", "x"), ("1", "y"), ("a.b", "dot")]
    # When / Then
    assert nest_pairs(pairs) == {"0": "x", "1": "y", "a.b": "dot"}


def test_parse_body_reads_a_binotel_like_body():
    # Given Binotel's PHP-style form
    body = urlencode(
        {
            "requestType": "apiCallCompleted",
            "callDetails[generalCallID]": "3735964071",
            "callDetails[callType]": "0",
            "callDetails[startTime]": "1795569023",
            "callDetails[billsec]": "42",
            "callDetails[externalNumber]": "0441234567",
            "callDetails[employeeData][email]": "ann@example.com",
            "callDetails[historyData][0][waitsec]": "3",
            "callDetails[historyData][1][waitsec]": "5",
        }
    ).encode()
    # When
    parsed = parse_body(body, FORM)
    # Then
    details = parsed["callDetails"]
    assert details["generalCallID"] == "3735964071"
    assert details["employeeData"] == {"email": "ann@example.com"}
    assert details["historyData"] == [{"waitsec": "3"}, {"waitsec": "5"}]


def test_parse_body_reads_a_bitrix24_like_body():
    # Given Bitrix24's telephony event form
    body = urlencode(
        {
            "event": "ONVOXIMPLANTCALLEND",
            "data[CALL_ID]": "externalCall.abc123.1795569023",
            "data[CALL_TYPE]": "2",
            "data[PHONE_NUMBER]": "+380441234567",
            "data[CALL_DURATION]": "42",
            "data[CALL_START_DATE]": "2026-11-25T03:10:23+02:00",
            "auth[application_token]": "secret-token",
            "auth[domain]": "example.bitrix24.ua",
        }
    ).encode()
    # When
    parsed = parse_body(body, FORM)
    # Then
    assert parsed["data"]["CALL_ID"] == "externalCall.abc123.1795569023"
    assert parsed["auth"] == {"application_token": "secret-token", "domain": "example.bitrix24.ua"}
