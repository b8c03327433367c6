"""Webhook bodies -> the canonical ``telephony`` block: parsing (§2), mapping functions and coercion (§3)."""

from callhook.mapping.coerce import evaluate_condition, map_telephony, merge_fill_empty, normalize_phone
from callhook.mapping.functions import (
    CallhookFunctions,
    compile_expression,
    format_iso,
    from_json,
    map_value,
    ms_to_seconds,
    parse_time,
    search,
    seconds_between,
    to_seconds,
    validate_expression,
    validate_timezone,
)
from callhook.mapping.parsing import (
    ACCEPTED_CONTENT_TYPES,
    MAX_DEPTH,
    MAX_LIST_INDEX,
    nest_pairs,
    parse_body,
    parse_query,
)

__all__ = [
    "ACCEPTED_CONTENT_TYPES",
    "MAX_DEPTH",
    "MAX_LIST_INDEX",
    "CallhookFunctions",
    "compile_expression",
    "evaluate_condition",
    "format_iso",
    "from_json",
    "map_telephony",
    "map_value",
    "merge_fill_empty",
    "ms_to_seconds",
    "nest_pairs",
    "normalize_phone",
    "parse_body",
    "parse_query",
    "parse_time",
    "search",
    "seconds_between",
    "to_seconds",
    "validate_expression",
    "validate_timezone",
]
