"""Webhook bodies and GET queries into one JSON-like object that mapping expressions run over
(docs/webhook-api.md, docs/mapping.md).

Providers send JSON, HTML-form bodies in whatever charset their platform uses (Binotel and Bitrix24 use PHP bracket
keys such as ``callDetails[generalCallID]``), or GET queries. Everything becomes a ``dict`` here, so that a channel's
``field_mapping`` is written once whatever the transport.

Choices, documented because admins and other modules rely on them:

* Content types: ``application/json``, ``application/*+json`` and ``text/json`` are JSON;
  ``application/x-www-form-urlencoded`` is a form. Anything else is 415. A request *without* a content type is read as
  JSON when its first non-blank character is ``{`` (some PBX bridges forget the header), is ``{}`` when the body is
  empty, and is 415 otherwise. A body that is empty or only whitespace is ``{}`` whatever the declared type.
* Charsets: a form's ``charset`` parameter (default utf-8) decodes the percent-decoded bytes. JSON is read in its
  ``charset`` when one is given, else UTF-8/16/32 as RFC 8259 detects it (a UTF-8 BOM is ignored). Undecodable
  bytes, an unknown charset or a codec that is not a text charset are 400, never mojibake.
* JSON: the top level must be an object. Nesting deeper than :data:`MAX_DEPTH` levels is 400: no provider sends
  that, DynamoDB cannot store it, and it keeps hostile bodies away from recursion limits downstream. NaN and
  Infinity (accepted by Python, not JSON) are 400. Unpaired UTF-16 surrogate escapes (``"\\ud800"``) become
  U+FFFD, because they cannot be encoded as UTF-8 when the dialog is stored.
* The body is stored with the dialog, and a call must not be lost (nor answered 500) over something DynamoDB cannot
  hold. So JSON numbers it cannot hold (:func:`json_number`: more than 38 digits, a magnitude of 1e126 or more,
  below 1e-130, or beyond a float's range such as ``1e400``) are kept as the text that was sent (``"1e400"``), and
  a member or form field whose name is empty or :data:`MAX_NAME_BYTES` long or longer is dropped (DynamoDB
  attribute names, map keys included, are 1 byte to under 64 KB; PHP drops fields without a name too).
* Bracket keys (:func:`nest_pairs`) follow PHP, the platform those providers run on, with guards against hostile
  bodies; the rules are in that function's docstring.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

from callhook.errors import UnreadableBodyError, UnsupportedContentTypeError

MAX_DEPTH = 32
"""Deepest nesting accepted, in containers counting the body itself, for JSON and bracket-key forms alike."""

MAX_LIST_INDEX = 10_000
"""Largest explicit ``a[N]`` index that makes a list; larger ones are object keys (``{"99999": ...}``)."""

MAX_NAME_BYTES = 65_536
"""Length in UTF-8 from which a member or field name is dropped: a DynamoDB attribute name is under 64 KB."""

ACCEPTED_CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded")

_FORM_TYPE = "application/x-www-form-urlencoded"
_JSON_TYPES = frozenset({"application/json", "text/json"})
_JSON_SUFFIX_TYPE = re.compile(r"application/[^/\s;]+\+json")
# Codecs that Python resolves but that rewrite the text (escape sequences, IDNA, ...) rather than decode a charset.
_NOT_CHARSETS = frozenset({"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined", "charmap"})
_BRACKET_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])+)")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_LIST_INDEX = re.compile(r"0|[1-9][0-9]{0,5}")  # [0-9], not \d: "a[٣]" is a name, not index 3
# A \uD800-\uDFFF escape in the JSON text, or a surrogate a lenient codec (utf-7) decoded to: cheap pre-check.
_SURROGATE = re.compile(r"\\u[dD][89abcdefABCDEF]|[\ud800-\udfff]")
_MAX_SHOWN = 80
# What a DynamoDB number can be (its documented limits): see json_number.
_MAX_STORED_DIGITS = 38
_MIN_STORED_MAGNITUDE = 1e-130
_MAX_STORED_MAGNITUDE = 1e126


def parse_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    """Read a webhook body into an object, by its declared content type.

    Raises:
        UnsupportedContentTypeError: the content type is neither JSON nor a form (415).
        UnreadableBodyError: invalid JSON, a JSON document that is not an object, nesting deeper than MAX_DEPTH,
            bytes that do not decode in the declared charset, or an unknown charset (400).
    """
    media_type, params = _split_content_type(content_type)
    if not body.strip():
        return {}
    if media_type == "":
        if body.lstrip(b" \t\r\n").lstrip(codecs.BOM_UTF8).startswith(b"{"):
            return _parse_json(body, None)
        raise UnsupportedContentTypeError(
            f"no content type given; send one of {', '.join(ACCEPTED_CONTENT_TYPES)} (a form may carry any charset)"
        )
    if media_type in _JSON_TYPES or _JSON_SUFFIX_TYPE.fullmatch(media_type):
        return _parse_json(body, params.get("charset"))
    if media_type == _FORM_TYPE:
        return nest_pairs(_decode_pairs(body, params.get("charset") or "utf-8"))
    raise UnsupportedContentTypeError(
        f"unsupported content type {_shown(media_type)}; send one of {', '.join(ACCEPTED_CONTENT_TYPES)}"
        " (a form may carry any charset)"
    )


def parse_query(raw_query: str) -> dict[str, Any]:
    """Read a GET query string (percent-encoded UTF-8, a leading ``?`` allowed) into an object, as a form would be.

    Raises:
        UnreadableBodyError: the percent-decoded bytes are not UTF-8 (400, as for a body).
    """
    try:
        raw = raw_query.removeprefix("?").encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnreadableBodyError(f"the query string cannot be encoded as UTF-8: {exc.reason}") from exc
    return nest_pairs(_decode_pairs(raw, "utf-8"))


def nest_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Build an object from decoded form pairs, nesting PHP-style bracket keys.

    Rules (PHP's, so that Binotel and Bitrix24 bodies read as their docs show them):

    * ``a[b][c]=x`` nests: ``{"a": {"b": {"c": "x"}}}``; a key without brackets is plain.
    * A container whose keys are all list indices becomes a list, ordered by index with gaps closed:
      ``a[0]=x&a[1]=y`` and ``a[1]=y&a[0]=x`` are both ``["x", "y"]``; ``a[5]=x&a[2]=y`` is ``["y", "x"]``.
      ``a[]=x`` appends at the next index (largest index + 1). A list index is ``0`` or a decimal without leading
      zeros up to MAX_LIST_INDEX; ``a[007]`` or ``a[99999]`` are object keys, so the container stays an object
      (``{"99999": ...}``) and no body can make us allocate a large list.
    * The last write wins at every level: ``a=1&a=2`` is ``"2"``; ``a=1&a[b]=2`` is ``{"b": "2"}`` (the later
      nested value replaces the scalar); ``a[b]=2&a=1`` is ``"1"``.
    * A malformed key (``a[b=1``, ``a[b]c``, ``[b]``, ``a[b[c]]``) or one nested deeper than MAX_DEPTH levels (31
      bracket segments) is kept literally as a plain key, rather than rejected or silently cut.
    * A field without a name (``=x``) is dropped, as PHP does, and so is one whose name is MAX_NAME_BYTES or longer:
      neither can be stored.
    """
    root = _Branch()
    for key, value in pairs:
        if not _storable_name(key):
            continue
        path = _key_path(key)
        node = root
        for segment in path[:-1]:
            child_key = node.resolve(segment)
            child = node.items.get(child_key)
            if not isinstance(child, _Branch):
                child = _Branch()
                node.store(child_key, child)
            node = child
        node.store(node.resolve(path[-1]), value)
    return {str(key): _finish(value) for key, value in root.items.items()}


@dataclass
class _Branch:
    """A container being built: integer keys are list indices, string keys are object keys."""

    items: dict[int | str, _Branch | str] = field(default_factory=dict)
    next_index: int = 0

    def resolve(self, segment: str | None) -> int | str:
        """``None`` is an append (``a[]``); a canonical small decimal is a list index; anything else an object key."""
        if segment is None:
            return self.next_index
        if _LIST_INDEX.fullmatch(segment) and int(segment) <= MAX_LIST_INDEX:
            return int(segment)
        return segment

    def store(self, key: int | str, value: _Branch | str) -> None:
        self.items[key] = value
        if isinstance(key, int):
            self.next_index = max(self.next_index, key + 1)


def _finish(value: _Branch | str) -> Any:
    if isinstance(value, str):
        return value
    if value.items and all(isinstance(key, int) for key in value.items):
        return [_finish(value.items[index]) for index in sorted(value.items, key=int)]
    return {str(key): _finish(child) for key, child in value.items.items()}


def _key_path(key: str) -> list[str | None]:
    """``a[b][]`` -> ``["a", "b", None]`` (None: append); a malformed or too deep key -> ``[key]``."""
    match = _BRACKET_KEY.fullmatch(key)
    if match is None:
        return [key]
    segments: list[str | None] = [segment or None for segment in _SEGMENT.findall(match.group(2))]
    if len(segments) >= MAX_DEPTH:  # the root object plus 31 nested containers: MAX_DEPTH levels, as for JSON
        return [key]
    return [match.group(1), *segments]


def _decode_pairs(data: bytes, charset: str) -> list[tuple[str, str]]:
    """Split ``k=v&k2=v2``, percent-decode each side as bytes (``+`` is a space), then decode in ``charset``.

    Raises:
        UnreadableBodyError: an unknown charset, or bytes that are not valid in it.
    """
    encoding = _text_codec(charset)
    pairs: list[tuple[str, str]] = []
    for chunk in data.split(b"&"):
        if not chunk:
            continue
        raw_key, _, raw_value = chunk.partition(b"=")
        try:
            key = unquote_to_bytes(raw_key.replace(b"+", b" ")).decode(encoding)
            value = unquote_to_bytes(raw_value.replace(b"+", b" ")).decode(encoding)
        except (UnicodeError, ValueError, LookupError) as exc:
            raise UnreadableBodyError(f"the form body is not valid {charset}: {_shown(str(exc))}") from exc
        if _SURROGATE.search(key) or _SURROGATE.search(value):  # only lenient codecs (utf-7) decode to these
            key, value = scrub_surrogates(key), scrub_surrogates(value)
        pairs.append((key, value))
    return pairs


def _parse_json(body: bytes, charset: str | None) -> dict[str, Any]:
    encoding = _text_codec(charset) if charset else json.detect_encoding(body)
    if encoding == "utf-8":
        encoding = "utf-8-sig"
    try:
        text = body.decode(encoding)
    except (UnicodeError, ValueError, LookupError) as exc:
        raise UnreadableBodyError(f"the JSON body is not valid {charset or encoding}: {_shown(str(exc))}") from exc
    try:
        document = json.loads(text, parse_constant=_reject_constant, parse_float=json_number, parse_int=json_number,
                              object_pairs_hook=_json_object)
    except json.JSONDecodeError as exc:
        raise UnreadableBodyError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise UnreadableBodyError(f"the JSON body is nested deeper than {MAX_DEPTH} levels") from exc
    except ValueError as exc:  # e.g. an integer literal longer than Python's int/str conversion limit
        raise UnreadableBodyError(f"invalid JSON: {_shown(str(exc))}") from exc
    if not isinstance(document, dict):
        raise UnreadableBodyError(f"the JSON body must be an object, got {_json_type_name(document)}")
    if _depth(document) > MAX_DEPTH:
        raise UnreadableBodyError(f"the JSON body is nested deeper than {MAX_DEPTH} levels")
    if _SURROGATE.search(text):
        return {scrub_surrogates(key): scrub_surrogates(value) for key, value in document.items()}
    return document


def json_number(literal: str) -> int | float | str:
    """A JSON number literal as int or float when DynamoDB can store it exactly, else the literal itself.

    DynamoDB numbers have up to 38 significant digits and a magnitude from 1e-130 to below 1e126; a float keeps 17
    digits at most, so for floats only the magnitude can be out of range (an overflowing literal is ``inf``).
    """
    if "." not in literal and "e" not in literal and "E" not in literal:
        return int(literal) if len(literal.lstrip("-")) <= _MAX_STORED_DIGITS else literal
    number = float(literal)
    return number if number == 0 or _MIN_STORED_MAGNITUDE <= abs(number) < _MAX_STORED_MAGNITUDE else literal


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object without the members whose names cannot be stored; a repeated name keeps its last value."""
    return {name: value for name, value in pairs if _storable_name(name)}


def _storable_name(name: str) -> bool:
    return bool(name) and len(name.encode("utf-8", "surrogatepass")) < MAX_NAME_BYTES


def _reject_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (RFC 8259) and cannot be stored; Python's parser would accept them."""
    raise ValueError(f"{name} is not a JSON value")


def scrub_surrogates(value: Any) -> Any:
    """Replace unpaired UTF-16 surrogates (legal in JSON escapes, unencodable in UTF-8) with U+FFFD, recursively."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {scrub_surrogates(key): scrub_surrogates(child) for key, child in value.items()}
    if isinstance(value, list):
        return [scrub_surrogates(child) for child in value]
    return value


def _depth(value: Any) -> int:
    """Container depth, iteratively, stopping as soon as it passes MAX_DEPTH."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict):
            children: Iterable[Any] = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _split_content_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """``"Application/JSON; charset=UTF-8"`` -> ``("application/json", {"charset": "UTF-8"})``."""
    if not content_type:
        return "", {}
    media_type, *raw_params = content_type.split(";")
    params: dict[str, str] = {}
    for raw in raw_params:
        name, sep, value = raw.partition("=")
        if sep:
            params[name.strip().lower()] = value.strip().strip('"').strip()
    return media_type.strip().lower(), params


def _text_codec(charset: str) -> str:
    """The Python codec for a charset name.

    Raises:
        UnreadableBodyError: the name is unknown, or names a codec that is not a text charset (base64, rot13, ...).
    """
    try:
        info = codecs.lookup(charset)
    except (LookupError, ValueError, TypeError) as exc:
        raise UnreadableBodyError(f"unknown charset {_shown(charset)}") from exc
    # Bytes-to-bytes and str-to-str codecs are flagged in CPython's private _is_text_encoding; default: a charset.
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        raise UnreadableBodyError(f"{_shown(charset)} is not a text charset")
    return info.name


def _json_type_name(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _shown(text: str) -> str:
    """A value quoted for an error message, cut so that a hostile header cannot blow up our logs."""
    return repr(text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "...")
