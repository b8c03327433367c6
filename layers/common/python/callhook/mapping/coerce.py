"""A parsed webhook body -> the canonical ``telephony`` block, via the channel's ``field_mapping`` (docs/mapping.md).

Only a missing ``call_id`` rejects an event: any other field that cannot be read is left null and named in a
:class:`MappingWarning`, because a dialog with a blank duration is still worth having and the admin can see why
the field is blank and fix the mapping.

Documented choices:

* A field absent from ``field_mapping`` is read by its canonical name (``call_id`` from body key ``call_id``); a
  field mapped to an empty expression is not read at all. Keys that are not canonical fields are ignored here (the
  channel validator reports them).
* An invalid expression, or one that fails on this body, leaves its field null with a warning; it never raises.
* Numbers become strings for the text fields (``call_id: 123`` -> ``"123"``, ``1.0`` -> ``"1"``); booleans,
  objects and arrays are a wrong shape for every field. Blank strings are null without a warning.
* ``duration`` goes through ``to_seconds`` (half up); a negative one is left null with a warning.
* ``caller``/``callee`` become E.164 when ``phonenumbers`` finds a possible number (national numbers read in
  ``default_region``). Digits of 11 or more without ``+`` that form a *valid* international number are also
  accepted (``380441234567`` -> ``+380441234567``), as PBX bridges often drop the ``+``. Anything else (``sip:...``,
  ``anonymous``, extension ``101``) is kept as sent, without a warning: it is what the provider knows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

from callhook.errors import ChannelMisconfiguredError
from callhook.mapping.functions import (
    format_iso,
    parse_time,
    preview,
    search,
    to_seconds,
    validate_expression,
    validate_timezone,
)
from callhook.models.call import CANONICAL_FIELDS, Direction, MappingWarning, Telephony

# JMESPathError subclasses ValueError; JMESPath's own functions can also raise OverflowError (ceil of an infinite
# number, avg of huge integers), TypeError or RecursionError on hostile data. None of them may lose the call.
_EXPRESSION_FAILURES = (ValueError, TypeError, ArithmeticError, RecursionError)

_DIRECTIONS: dict[str, Direction] = {
    **dict.fromkeys(("in", "incoming", "inbound"), Direction.INBOUND),
    **dict.fromkeys(("out", "outgoing", "outbound", "outbound-api", "outbound-dial"), Direction.OUTBOUND),
}
_DIALABLE = re.compile(r"\+?[\d\s().\-/]+")
_MIN_INTERNATIONAL_DIGITS = 11
_MAX_WARNING_TEXT = 200
_MAX_NUMBER = 10**64
_MAX_STORED_INT = 10**38  # a DynamoDB number holds 38 digits: a larger int in a warning is shown as text

_Coerced = tuple[Any, str | None]  # (value or None, reason for a warning or None)


def map_telephony(
    body: dict[str, Any],
    field_mapping: Mapping[str, str],
    *,
    timezone: str | None = None,
    default_region: str | None = None,
) -> tuple[Telephony | None, list[MappingWarning]]:
    """Evaluate and coerce every canonical field; ``(None, warnings)`` when there is no ``call_id`` (answer 422).

    ``timezone`` is the channel's zone for zoneless times, ``default_region`` its ISO country for national numbers.
    Never raises for any body or mapping: problems become warnings.
    """
    warnings: list[MappingWarning] = []
    values: dict[str, Any] = {}
    for name in CANONICAL_FIELDS:
        expr = field_mapping.get(name, name)
        if not expr:
            continue
        raw, failure = _evaluate(expr, body, timezone)
        if failure:
            warnings.append(_warning(name, None, failure))
            continue
        value, reason = _coerce(name, raw, timezone=timezone, default_region=default_region)
        if reason:
            warnings.append(_warning(name, raw, reason))
        values[name] = value
    if not values.get("call_id"):
        if not any(warning.field == "call_id" for warning in warnings):
            warnings.append(
                _warning(
                    "call_id",
                    None,
                    f"no call id: {preview(field_mapping.get('call_id', 'call_id'))} gave no value for this body",
                )
            )
        return None, warnings
    return Telephony(**values, raw=body), warnings


def evaluate_condition(
    expr: str | None, body: dict[str, Any], *, timezone: str | None = None, default: bool = True
) -> bool:
    """Whether ``body`` matches ``accept_when``/``update_when``, with JMESPath truthiness.

    ``expr`` None or blank gives ``default``: pass ``default=False`` for ``update_when`` (no condition: never an
    update) and keep ``True`` for ``accept_when`` (no condition: accept all). false, null, ``""``, ``[]`` and ``{}``
    are false; ``0`` is true. An expression that fails on this body is false (the body does not match).

    Raises:
        ChannelMisconfiguredError: the expression itself is invalid (syntax, unknown function, arity); the channel
            validator should have refused it, so this is our admin's problem, answered 503.
    """
    if expr is None or (isinstance(expr, str) and not expr.strip()):
        return default
    problem = validate_expression(expr)
    if problem:
        raise ChannelMisconfiguredError(problem)
    try:
        result = search(expr, body, timezone=timezone)
    except _EXPRESSION_FAILURES:
        return False
    return _truthy(result)


def merge_fill_empty(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``update`` that may be written: those with a value where ``current`` has none.

    A later event fills fields that are still empty and never blanks or overwrites one (docs/mapping.md): the first
    value recorded for a field is the one that stays. Empty means null, a blank string, ``[]`` or ``{}``.
    """
    return {key: value for key, value in update.items() if not _is_empty(value) and _is_empty(current.get(key))}


def _evaluate(expr: str, body: dict[str, Any], timezone: str | None) -> tuple[Any, str | None]:
    """(value, None), or (None, why) when the expression is invalid, fails, or a function could not read data."""
    problem = validate_expression(expr)
    if problem:
        return None, problem
    problems: list[str] = []
    try:
        value = search(expr, body, timezone=timezone, problems=problems)
    except _EXPRESSION_FAILURES as exc:
        return None, f"expression {expr!r} failed: {' '.join(str(exc).split())[:_MAX_WARNING_TEXT]}"
    if value is None and problems:
        return None, "; ".join(problems)
    return value, None


def _coerce(name: str, raw: Any, *, timezone: str | None, default_region: str | None) -> _Coerced:
    if raw is None:
        return None, None
    if isinstance(raw, dict | list | bool):
        return None, f"expected a single value, got {_shape(raw)}"
    if isinstance(raw, float) and not math.isfinite(raw):
        return None, f"expected a single value, got {raw!r}"
    if isinstance(raw, int) and abs(raw) >= _MAX_NUMBER:
        return None, "a number too large to be a value of this field"
    coercer = _COERCERS.get(name, _coerce_text)
    return coercer(raw, timezone, default_region)


def _coerce_text(raw: Any, _timezone: str | None, _region: str | None) -> _Coerced:
    return _text(raw), None


def _coerce_direction(raw: Any, _timezone: str | None, _region: str | None) -> _Coerced:
    text = _text(raw)
    if text is None:
        return None, None
    direction = _DIRECTIONS.get(text.lower().replace("_", "-"))
    if direction is None:
        return None, (
            f"unknown direction {text[:_MAX_WARNING_TEXT]!r}: expected one of {', '.join(_DIRECTIONS)} "
            "(any case); translate provider codes with map_value"
        )
    return direction, None


def _coerce_started_at(raw: Any, timezone: str | None, _region: str | None) -> _Coerced:
    if isinstance(raw, str) and not raw.strip():
        return None, None
    moment = parse_time(raw, timezone)
    if moment is None:
        reason = "not a time: expected unix s/ms/µs, RFC 2822, ISO-8601 or 'YYYY-MM-DD HH:MM:SS'"
        zone_problem = validate_timezone(timezone)
        return None, f"{reason}; the channel's {zone_problem}" if zone_problem else reason
    return format_iso(moment), None


def _coerce_duration(raw: Any, _timezone: str | None, _region: str | None) -> _Coerced:
    if isinstance(raw, str) and not raw.strip():
        return None, None
    seconds = to_seconds(raw)
    if seconds is None:
        return None, "not a duration: expected seconds as a number or numeric string, or [hh:]mm:ss"
    if seconds < 0:
        return None, "a negative duration"
    return seconds, None


def _coerce_phone(raw: Any, _timezone: str | None, region: str | None) -> _Coerced:
    text = _text(raw)
    return (None if text is None else normalize_phone(text, region)), None


def normalize_phone(text: str, region: str | None) -> str:
    """E.164 when the text is a possible phone number, else the text as sent (SIP URIs, ``anonymous``, extensions)."""
    if not _DIALABLE.fullmatch(text):
        return text
    number = _parse_phone(text, region.strip().upper() if region else None)
    if number is not None and phonenumbers.is_possible_number_with_reason(number) == ValidationResult.IS_POSSIBLE:
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    digits = re.sub(r"\D", "", text)
    if not text.startswith("+") and len(digits) >= _MIN_INTERNATIONAL_DIGITS:
        international = _parse_phone("+" + digits, None)
        if international is not None and phonenumbers.is_valid_number(international):
            return phonenumbers.format_number(international, PhoneNumberFormat.E164)
    return text


def _parse_phone(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


_COERCERS: dict[str, Callable[[Any, str | None, str | None], _Coerced]] = {
    "direction": _coerce_direction,
    "started_at": _coerce_started_at,
    "duration": _coerce_duration,
    "caller": _coerce_phone,
    "callee": _coerce_phone,
}


def _text(raw: Any) -> str | None:
    """A string field's value: strings stripped (blank -> None), numbers as their decimal text."""
    if isinstance(raw, str):
        return raw.strip() or None
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def _warning(field: str, value: Any, reason: str) -> MappingWarning:
    """Warnings are stored in the dialog: keep their values small and JSON/DynamoDB friendly (no floats)."""
    if isinstance(value, str):
        shown: Any = value if len(value) <= _MAX_WARNING_TEXT else value[:_MAX_WARNING_TEXT] + "..."
    elif value is None or isinstance(value, bool) or (isinstance(value, int) and abs(value) < _MAX_STORED_INT):
        shown = value
    else:
        shown = preview(value, _MAX_WARNING_TEXT)
    return MappingWarning(field=field, value=shown, reason=reason)


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a boolean"


def _truthy(value: Any) -> bool:
    """JMESPath truthiness: false, null, "", [] and {} are false; everything else (0, " ") is true."""
    return not (value is None or value is False or (isinstance(value, str | list | dict) and len(value) == 0))


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | dict):
        return not value
    return False
