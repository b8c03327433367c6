"""The extra JMESPath functions of ``field_mapping`` expressions (docs/mapping.md), and how expressions are run.

Providers disagree on how to write a time, a duration or a direction; these functions let an admin normalise a field
inside its expression (``to_iso(Timestamp)``, ``ms_to_seconds(duration)``, ``map_value(callType, `{...}`)``) instead
of asking us for a code change per provider.

Bad *data* never raises: a value a function cannot read gives null, and the reason is noted for the caller (see
:class:`CallhookFunctions`), because one odd field must not lose a call. Bad *expressions* (unknown function, wrong
number of arguments) raise JMESPath errors; :func:`validate_expression` finds those when the channel is saved.

Documented choices:

* Times are returned in whole seconds (``YYYY-MM-DDTHH:MM:SSZ``): sub-seconds are truncated, never rounded, so a
  time is never moved into the next second (or the next day). :func:`parse_time` keeps them for arithmetic.
* Unix units are told apart by magnitude: below 1e11 seconds (up to the year 5138), below 1e14 milliseconds, below
  1e17 microseconds, below 1e20 nanoseconds; larger numbers are not times.
* A zoneless time is read in the ``tz`` argument, else the channel's timezone, else UTC. A zone is an IANA name
  (``Europe/Kyiv``), ``UTC``, or a fixed offset (``+03:00``). In a DST overlap the first (summer-time) reading wins;
  a time inside a DST gap is moved forward by the gap, as ``zoneinfo`` does.
* Durations round half up (``42.5`` -> ``43``, Decimal ``ROUND_HALF_UP``), so ``ms_to_seconds(500)`` is ``1``:
  a connected call that lasted half a second did last.
"""

from __future__ import annotations

import functools
import json
import math
import re
import reprlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from email.utils import parsedate_tz
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jmespath
from jmespath import exceptions as jmespath_exceptions
from jmespath import functions
from jmespath.parser import ParsedResult

from callhook.mapping.parsing import MAX_DEPTH, scrub_surrogates

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# (exclusive upper bound of |value|, microseconds per unit): seconds, milliseconds, microseconds, nanoseconds.
_UNIX_UNITS: tuple[tuple[int, Decimal], ...] = (
    (10**11, Decimal(1_000_000)),
    (10**14, Decimal(1_000)),
    (10**17, Decimal(1)),
    (10**20, Decimal("0.001")),
)
_MAX_SECONDS = Decimal(10**15)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_CLOCK = re.compile(r"(?:(?P<h>\d{1,9}):(?P<m>[0-5]?\d)|(?P<mm>\d{1,9})):(?P<s>[0-5]?\d(?:[.,]\d+)?)", re.ASCII)
_ISO = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:[Tt ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d+))?)?)?"
    r"\s*(?P<zone>[Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII,
)
_OFFSET = re.compile(r"(?P<sign>[+-])(?P<h>\d{2}):?(?P<m>\d{2})?", re.ASCII)
_MONTH_NAME = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)", re.IGNORECASE)
_MAX_TEXT = 64
_MAX_ARGS = {"to_iso": 2}
_REPR = reprlib.Repr()  # 3.11's Repr takes no constructor arguments
_REPR.maxlevel = 3
_REPR.maxdict = _REPR.maxlist = 6
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlong = 40


def parse_time(value: Any, tz: str | None) -> datetime | None:
    """Read any time form the mapping accepts (docs/mapping.md) into an aware UTC datetime (sub-seconds kept), or None.

    ``tz`` is the zone for a zoneless value (the caller picks it: the ``tz`` argument, else the channel's); None
    means UTC. An unknown zone makes a zoneless value unreadable (None) but does not matter for a value with an
    offset.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return _from_unix(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > _MAX_TEXT:
        return None
    if _NUMBER.fullmatch(text):
        return _from_unix(Decimal(text))
    iso = _ISO.fullmatch(text)
    if iso:
        return _from_iso_match(iso, tz)
    if text[:4].isdigit():
        return _from_isoformat(text, tz)
    if _MONTH_NAME.search(text):
        return _from_rfc2822(text, tz)
    return None


def format_iso(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC, sub-seconds truncated (the form of ``telephony.started_at``)."""
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"


def to_seconds(value: Any) -> int | None:
    """A number, numeric string or ``[h:]mm:ss[.f]`` clock -> whole seconds, half up; None when unreadable."""
    if isinstance(value, str) and len(value) <= _MAX_TEXT:
        clock = _CLOCK.fullmatch(value.strip())
        if clock:
            hours = int(clock["h"] or 0)
            minutes = int(clock["m"] or clock["mm"])
            seconds = Decimal(clock["s"].replace(",", "."))
            return _round_half_up(Decimal(hours * 3600 + minutes * 60) + seconds)
    number = _decimal(value)
    return None if number is None else _round_half_up(number)


def ms_to_seconds(value: Any) -> int | None:
    """Milliseconds (a number or numeric string) -> whole seconds, half up; None when unreadable."""
    number = _decimal(value)
    return None if number is None else _round_half_up(number / 1000)


def seconds_between(start: Any, end: Any, tz: str | None) -> int | None:
    """Whole seconds from ``start`` to ``end`` (any time forms, zoneless ones read in ``tz``), half up; may be < 0."""
    first, last = parse_time(start, tz), parse_time(end, tz)
    if first is None or last is None:
        return None
    return _round_half_up(Decimal((last - first) // timedelta(microseconds=1)) / 1_000_000)


def map_value(value: Any, table: Any) -> Any:
    """``table[str(value)]``: keys are compared as strings, so ``0``, ``0.0`` and ``"0"`` all find key ``"0"``."""
    if not isinstance(table, dict):
        return None
    key = _key_text(value)
    if key is None:
        return None
    if key in table:
        return table[key]
    return table.get(key.strip())


def from_json(value: Any) -> Any:
    """A JSON document embedded in a string (Mango Office's ``json=`` field) -> its value; invalid -> None.

    Values that are not strings are already decoded (the same provider may send the field as JSON proper) and are
    returned unchanged.
    """
    if not isinstance(value, str):
        return value
    try:
        document = json.loads(value)
    except (ValueError, RecursionError):
        return None
    if _too_deep(document):
        return None
    return scrub_surrogates(document)


class CallhookFunctions(functions.Functions):
    """JMESPath's functions plus callhook's (docs/mapping.md), bound to a channel timezone instead of module state.

    Thread safety: :func:`search` shares one instance per timezone, which holds nothing mutable. ``problems``, when
    given, collects why a function returned null for a value it could not read, so that a mapping can say *why* a
    field is null; such an instance belongs to one evaluation (``search(..., problems=[])`` builds a fresh one).
    """

    def __init__(self, timezone: str | None = None, problems: list[str] | None = None) -> None:
        self.timezone = timezone or None
        self.problems = problems

    def _note(self, problem: str) -> None:
        if self.problems is not None:
            self.problems.append(problem)

    @functions.signature({"types": [], "variadic": True})
    def _func_to_iso(self, value: Any, *rest: Any) -> str | None:
        if len(rest) > 1:
            raise jmespath_exceptions.ArityError(2, 1 + len(rest), "to_iso")
        tz = rest[0] if rest else None
        if tz is not None and not isinstance(tz, str):
            self._note(f"to_iso: the timezone must be a string, got {preview(tz)}")
            return None
        if value is None:
            return None
        zone = tz or self.timezone
        moment = parse_time(value, zone)
        if moment is None:
            self._note(f"to_iso: cannot read {preview(value)} as a time{_zone_hint(zone)}")
            return None
        return format_iso(moment)

    @functions.signature({"types": []})
    def _func_to_seconds(self, value: Any) -> int | None:
        return self._checked("to_seconds", value, to_seconds(value), "a duration")

    @functions.signature({"types": []})
    def _func_ms_to_seconds(self, value: Any) -> int | None:
        return self._checked("ms_to_seconds", value, ms_to_seconds(value), "milliseconds")

    @functions.signature({"types": []}, {"types": []})
    def _func_seconds_between(self, start: Any, end: Any) -> int | None:
        if start is None or end is None:
            return None
        seconds = seconds_between(start, end, self.timezone)
        if seconds is None:
            self._note(f"seconds_between: cannot read {preview(start)} and {preview(end)} as times")
        return seconds

    @functions.signature({"types": []}, {"types": []})
    def _func_map_value(self, value: Any, table: Any) -> Any:
        if not isinstance(table, dict):
            self._note(f"map_value: the mapping must be an object, got {preview(table)}")
            return None
        mapped = map_value(value, table)
        if mapped is None and value is not None:
            self._note(f"map_value: {preview(value)} is not one of {preview(sorted(table))}")
        return mapped

    @functions.signature({"types": []})
    def _func_from_json(self, value: Any) -> Any:
        document = from_json(value)
        if document is None and value is not None:
            self._note(f"from_json: {preview(value)} is not a JSON document")
        return document

    def _checked(self, name: str, value: Any, result: int | None, what: str) -> int | None:
        if result is None and value is not None:
            self._note(f"{name}: cannot read {preview(value)} as {what}")
        return result


@functools.lru_cache(maxsize=512)
def compile_expression(expr: str) -> ParsedResult:
    """Parse once per process: channels reuse the same few expressions on every webhook.

    Raises:
        jmespath.exceptions.ParseError: the expression is not valid JMESPath (``validate_expression`` says why).
    """
    try:
        return jmespath.compile(expr)
    except RecursionError as exc:  # "((((((...": the recursive-descent parser gives up; report it as a parse error
        error = jmespath_exceptions.ParseError(0, expr[:1], "nesting", "the expression is nested too deeply")
        error.expression = expr[:_MAX_TEXT]
        raise error from exc


@functools.lru_cache(maxsize=64)
def _options(timezone: str | None) -> jmespath.Options:
    return jmespath.Options(custom_functions=CallhookFunctions(timezone))


def search(expr: str, data: Any, *, timezone: str | None = None, problems: list[str] | None = None) -> Any:
    """Evaluate a mapping expression with callhook's extra functions (docs/mapping.md); ``timezone`` is the
    channel's zone.

    ``problems``, when given, receives why a function returned null (see :class:`CallhookFunctions`).

    Raises:
        jmespath.exceptions.ParseError: the expression is invalid.
        jmespath.exceptions.JMESPathError: the expression failed on this data (a built-in function's type error,
            an unknown function, a wrong number of arguments).
    """
    if problems is None:
        options = _options(timezone or None)
    else:
        options = jmespath.Options(custom_functions=CallhookFunctions(timezone, problems))
    return compile_expression(expr).search(data, options=options)


def validate_expression(expr: str) -> str | None:
    """Why ``expr`` cannot work (syntax, unknown function, wrong number of arguments), or None when it can.

    Channel validators call this so that a typo is reported when the channel is saved, not on the first call.
    """
    if not isinstance(expr, str):
        return f"an expression must be a string, got {type(expr).__name__}"
    try:
        parsed = compile_expression(expr)
    except (jmespath_exceptions.JMESPathError, ValueError) as exc:
        detail = " ".join(str(exc).split())
        return f"invalid JMESPath expression {preview(expr)}: {detail[:200]}"
    for name, arity in _function_calls(parsed.parsed):
        problem = _arity_problem(name, arity)
        if problem:
            return f"invalid JMESPath expression {preview(expr)}: {problem}"
    return None


def validate_timezone(name: str | None) -> str | None:
    """Why ``name`` is not a zone ``to_iso`` can use (IANA name, ``UTC`` or ``+03:00``), or None when it is."""
    if name is None:
        return None
    if not isinstance(name, str):
        return f"a timezone must be a string, got {type(name).__name__}"
    if _zone(name) is not None:
        return None
    return f"unknown timezone {name!r}: use an IANA name such as 'Europe/Kyiv', 'UTC' or an offset such as '+03:00'"


def _function_calls(node: Any) -> Iterator[tuple[str, int]]:
    """(name, number of arguments) of every function call in a parsed expression, walked without recursion."""
    stack = [node]
    while stack:
        current = stack.pop()
        if not isinstance(current, dict):
            continue
        children = current.get("children") or []
        if current.get("type") == "function_expression":
            yield str(current.get("value")), len(children)
        stack.extend(children)


def _arity_problem(name: str, arity: int) -> str | None:
    spec = CallhookFunctions.FUNCTION_TABLE.get(name)
    if spec is None:
        return f"unknown function {name}()"
    signature = spec["signature"]
    if signature and signature[-1].get("variadic"):
        least, most = len(signature), _MAX_ARGS.get(name)
        if arity < least or (most is not None and arity > most):
            expected = f"{least} to {most}" if most else f"at least {least}"
            return f"{name}() takes {expected} arguments, got {arity}"
        return None
    if arity != len(signature):
        return f"{name}() takes {len(signature)} argument{'s' if len(signature) != 1 else ''}, got {arity}"
    return None


def _from_unix(number: int | float | Decimal) -> datetime | None:
    if isinstance(number, float):
        if not math.isfinite(number):
            return None
        number = Decimal(repr(number))
    elif isinstance(number, int):
        number = Decimal(number)
    magnitude = abs(number)
    for bound, micros_per_unit in _UNIX_UNITS:
        if magnitude < bound:
            try:
                return _EPOCH + timedelta(microseconds=int(number * micros_per_unit))
            except OverflowError:
                return None
    return None


def _from_iso_match(match: re.Match[str], tz: str | None) -> datetime | None:
    fraction = (match["f"] or "0")[:6].ljust(6, "0")
    try:
        naive = datetime(
            int(match["y"]),
            int(match["mo"]),
            int(match["d"]),
            int(match["h"] or 0),
            int(match["mi"] or 0),
            int(match["s"] or 0),
            int(fraction),
        )
    except ValueError:
        return None
    zone_text = match["zone"]
    if zone_text is None:
        return _in_zone(naive, tz)
    zone = _fixed_zone(zone_text)
    return None if zone is None else _to_utc(naive.replace(tzinfo=zone))


def _from_isoformat(text: str, tz: str | None) -> datetime | None:
    """Other ISO-8601 shapes Python knows (basic ``20261125T011023Z``, week dates)."""
    try:
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None
    return _in_zone(moment, tz) if moment.tzinfo is None else _to_utc(moment)


def _from_rfc2822(text: str, tz: str | None) -> datetime | None:
    try:
        parts = parsedate_tz(text)
        if parts is None:
            return None
        naive = datetime(*parts[:6])
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    offset = parts[9]
    if offset is None:
        # "-0000" is RFC 2822's "UTC, origin zone unknown"; no zone at all is a zoneless local time.
        return naive.replace(tzinfo=UTC) if text.endswith("-0000") else _in_zone(naive, tz)
    try:
        return _to_utc(naive.replace(tzinfo=timezone(timedelta(seconds=offset))))
    except (ValueError, OverflowError):
        return None


def _in_zone(naive: datetime, tz: str | None) -> datetime | None:
    zone = _zone(tz) if tz else UTC
    return None if zone is None else _to_utc(naive.replace(tzinfo=zone))


def _to_utc(moment: datetime) -> datetime | None:
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


@functools.lru_cache(maxsize=128)
def _zone(name: str) -> tzinfo | None:
    """An IANA zone, ``UTC``/``Z``, or a fixed ``±HH[:MM]`` offset; None when unknown."""
    fixed = _fixed_zone(name.strip())
    if fixed is not None:
        return fixed
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _fixed_zone(text: str) -> tzinfo | None:
    if text.upper() in ("Z", "UTC", "GMT"):
        return UTC
    offset = _OFFSET.fullmatch(text)
    if offset is None:
        return None
    minutes = int(offset["h"]) * 60 + int(offset["m"] or 0)
    try:
        return timezone(timedelta(minutes=-minutes if offset["sign"] == "-" else minutes))
    except ValueError:  # |offset| of 24 h or more
        return None


def _decimal(value: Any) -> Decimal | None:
    """A JSON number or numeric string as a Decimal within ±1e15 (larger is not a duration), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = Decimal(value) if abs(value) <= _MAX_SECONDS else None
    elif isinstance(value, float):
        number = Decimal(repr(value)) if math.isfinite(value) else None
    elif isinstance(value, str) and len(value) <= _MAX_TEXT and _NUMBER.fullmatch(value.strip()):
        number = Decimal(value.strip())
    else:
        return None
    if number is None or abs(number) > _MAX_SECONDS:
        return None
    return number


def _round_half_up(number: Decimal) -> int | None:
    try:
        return int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation:
        return None


def _key_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**100 else None
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def _too_deep(value: Any) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict | list):
            if depth > MAX_DEPTH:
                return True
            stack.extend((child, depth + 1) for child in (current.values() if isinstance(current, dict) else current))
    return False


def _zone_hint(zone: str | None) -> str:
    if zone and _zone(zone) is None:
        return f" (unknown timezone {zone!r})"
    return ""


def preview(value: Any, limit: int = 80) -> str:
    """A short, bounded repr for messages and warnings: safe on huge or deeply nested values."""
    try:
        shown = _REPR.repr(value)
    except ValueError:  # an int beyond Python's int/str conversion limit
        return f"<{type(value).__name__} too large to show>"
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
