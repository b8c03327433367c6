"""Configuration tables admins edit: channels, operators, topics, actions and instance settings."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from callhook.aws import client, from_item, to_item, to_value
from callhook.models.channel import Channel
from callhook.models.channel import parse_channel as parse_channel  # where callers read it
from callhook.models.directory import (
    DEFAULT_OPERATOR_ID,
    DEFAULT_OPERATOR_SETTING,
    Operator,
    OperatorLookup,
    Topic,
    normalize_email,
    normalize_ext,
    parse_operator_id,
)
from callhook.models.directory import read_operator_item as read_operator_item  # where callers read it
from callhook.models.problems import InvalidItem
from callhook.repositories._dynamo import translated_errors

OPERATOR_EMAIL_INDEX = "by_email"
OPERATOR_EXT_INDEX = "by_ext_key"


class VersionConflictError(Exception):
    """An optimistic write lost the race: someone changed the item since it was read."""


class ConfigTable:
    """Key-value access shared by the configuration tables."""

    def __init__(self, table_name: str, key: str, key_type: str = "S") -> None:
        self.table, self.key, self.key_type = table_name, key, key_type

    def _key(self, value: Any) -> dict[str, Any]:
        return {self.key: {self.key_type: str(value)}}

    def get(self, key: Any, *, consistent: bool = False) -> dict[str, Any] | None:
        with translated_errors(f"read {self.table}"):
            resp = client("dynamodb").get_item(TableName=self.table, Key=self._key(key), ConsistentRead=consistent)
        return from_item(resp["Item"]) if "Item" in resp else None

    def put(self, item: dict[str, Any], *, expected_version: int | None = None) -> None:
        """Write an item; with `expected_version`, only if the stored one still has that version."""
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": to_item(item)}
        if expected_version is not None:
            kwargs["ConditionExpression"] = "attribute_not_exists(#k) OR version = :v"
            kwargs["ExpressionAttributeNames"] = {"#k": self.key}
            kwargs["ExpressionAttributeValues"] = {":v": {"N": str(expected_version)}}
        try:
            with translated_errors(f"write {self.table}"):
                client("dynamodb").put_item(**kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise VersionConflictError(f"{item.get(self.key)} changed since version {expected_version}") from exc
            raise

    def delete(self, key: Any) -> bool:
        with translated_errors(f"delete {self.table}"):
            resp = client("dynamodb").delete_item(TableName=self.table, Key=self._key(key), ReturnValues="ALL_OLD")
        return "Attributes" in resp

    def scan_all(self) -> list[dict[str, Any]]:
        """Admin listing of a small configuration table (never on a request path)."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.table}
        while True:
            with translated_errors(f"list {self.table}"):
                resp = client("dynamodb").scan(**kwargs)
            items += [from_item(i) for i in resp.get("Items", [])]
            if "LastEvaluatedKey" not in resp:
                return items
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


class _TTLCache:
    """Channel items cached briefly per execution environment: config edits apply within seconds."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, ttl: float) -> Any:
        with self._lock:
            hit = self._data.get(key)
        return hit[1] if hit and time.monotonic() - hit[0] < ttl else None

    def set(self, key: str, value: Any) -> None:
        with self._lock:
            self._data[key] = (time.monotonic(), value)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_channel_cache = _TTLCache()


def clear_channel_cache() -> None:
    _channel_cache.clear()


def get_channel(table: str, channel_id: str, *, cache_seconds: float = 0, fresh: bool = False) -> Channel | None:
    """The channel by key, cached for `cache_seconds`. None if unknown. `fresh`: read the item now, strongly
    consistent (an admin may have saved it a moment ago), and keep that copy for the next requests.

    Raises:
        ChannelConfigError: the stored item fails validation.
    """
    cache_key = f"{table}/{channel_id}"
    if not fresh and cache_seconds > 0 and (cached := _channel_cache.get(cache_key, cache_seconds)) is not None:
        item = cached
    else:
        item = ConfigTable(table, "channel_id").get(channel_id, consistent=fresh) or {}
        if cache_seconds > 0:
            _channel_cache.set(cache_key, item)
    return parse_channel(item) if item else None


def _lookup(items: list[dict[str, Any]], *, scanned: bool = False) -> OperatorLookup:
    found = OperatorLookup(scanned=scanned)
    for item in items:
        read = read_operator_item(item)
        if isinstance(read, Operator):
            found.operators.append(read)
        else:
            found.invalid.append(read)
    return found


def _query_index(table: str, index: str, attribute: str, value: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "IndexName": index, "KeyConditionExpression": "#k = :v",
                              "ExpressionAttributeNames": {"#k": attribute}, "ExpressionAttributeValues": {
                                  ":v": {"S": value}}}
    while True:
        with translated_errors("find operator"):
            resp = client("dynamodb").query(**kwargs)
        items += [from_item(i) for i in resp.get("Items", [])]
        if "LastEvaluatedKey" not in resp:
            return items
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def _find_operators(table: str, index: str, attribute: str, key: str,
                    matches: Callable[[dict[str, Any]], bool]) -> OperatorLookup:
    """Query the index on a derived attribute; when it finds nothing, scan and compare in code.

    Why the fallback: the derived attributes (`email_key`, `ext_key`) are written by the NormalizeOperator function
    on the table's stream, a moment after an admin saves an item in the console (or never, if that function
    failed). Until then the item is missing from the index but must still be found: docs/items.md says nothing may
    depend on attributes only our tooling writes. The operators table is small (people of one company), and the
    scan runs only on a miss, so its cost is a few reads on the unhappy path.
    """
    # An index entry can be stale (the email was edited in the console and the stream function has not run yet):
    # an item counts only if its own fields match.
    found = _lookup([item for item in _query_index(table, index, attribute, key) if matches(item)])
    if found.operators or found.invalid:
        return found
    scanned = [item for item in ConfigTable(table, "user_id", "N").scan_all() if matches(item)]
    return _lookup(scanned, scanned=True)


def find_operators_by_email(table: str, email: str) -> OperatorLookup:
    """Operators whose email matches `email` with case and surrounding spaces ignored (usually one)."""
    key = normalize_email(email)
    return _find_operators(table, OPERATOR_EMAIL_INDEX, "email_key", key, lambda item: isinstance(
        item.get("email"), str) and normalize_email(item["email"]) == key)


def find_operators_by_ext(table: str, ext: str) -> OperatorLookup:
    """Operators whose extension matches, an `ext` stored as a string or a number alike."""
    key = normalize_ext(ext) or ""
    return _find_operators(table, OPERATOR_EXT_INDEX, "ext_key", key,
                           lambda item: key != "" and normalize_ext(item.get("ext")) == key)


def find_operator_by_email(table: str, email_key: str) -> list[Operator]:
    """The valid operators of `find_operators_by_email`."""
    return find_operators_by_email(table, email_key).operators


def operator_entry(table: str, user_id: int) -> Operator | InvalidItem | None:
    """The operator by key, the item marked invalid, or None when there is no such item."""
    item = ConfigTable(table, "user_id", "N").get(user_id)
    return None if item is None else read_operator_item(item)


def get_operator(table: str, user_id: int) -> Operator | None:
    """The valid operator by key (None: no such item, or an invalid one; `operator_entry` tells them apart)."""
    entry = operator_entry(table, user_id)
    return entry if isinstance(entry, Operator) else None


def operator_item(table: str, user_id: int) -> dict[str, Any] | None:
    """The stored operator item as is (even an invalid one, for the admin to see and fix)."""
    return ConfigTable(table, "user_id", "N").get(user_id)


def get_topic(table: str, alias: str) -> Topic | None:
    """The topic by alias (compared exactly: it is the key). An item with other attributes still names its topic:
    only the key matters to the workflow, so a console-added attribute never loses a call's topic."""
    item = ConfigTable(table, "alias").get(alias)
    if item is None:
        return None
    name = item.get("name")
    return Topic(alias=alias, name=name if isinstance(name, str) else "")


def list_topic_aliases(table: str) -> list[str]:
    return sorted(str(i["alias"]) for i in ConfigTable(table, "alias").scan_all())


def get_setting(table: str, key: str, default: Any = None) -> Any:
    item = ConfigTable(table, "key").get(key)
    return default if item is None else item.get("value", default)


def read_default_operator_id(table: str) -> tuple[int, str | None]:
    """The instance setting, stored as a number or a numeric string (the console writes either), and why it was
    not used when it is stored but unreadable (then the default, 1, the root admin)."""
    value = get_setting(table, DEFAULT_OPERATOR_SETTING, DEFAULT_OPERATOR_ID)
    operator_id = parse_operator_id(value)
    if operator_id is None or operator_id < 0:
        return DEFAULT_OPERATOR_ID, (f"{DEFAULT_OPERATOR_SETTING} is {str(value)[:80]!r}, not an operator's user_id "
                                     f"(a whole number or a numeric string): used the default {DEFAULT_OPERATOR_ID}")
    return operator_id, None


def default_operator_id(table: str) -> int:
    return read_default_operator_id(table)[0]


def write_operator_derived(table: str, item: dict[str, Any], wanted: dict[str, str | None]) -> bool:
    """Bring the stored operator's derived attributes to `wanted` (None: remove), only where they differ.

    Conditional on the item still holding the source values `wanted` was computed from (`email`, `ext`, as they
    were in `item`: a newer write is normalised by its own stream record) and on at least one derived attribute
    still differing. The second condition is the loop guard: this write is itself a stream record, delivered to the
    same function (on AWS after it, locally from inside it), and it must then change nothing and write nothing.
    Returns whether it wrote.
    """
    names: dict[str, str] = {"#id": "user_id"}
    values: dict[str, Any] = {}
    same_source = ["attribute_exists(#id)"]
    for i, source in enumerate(("email", "ext")):
        names[f"#s{i}"] = source
        if source in item:
            values[f":s{i}"] = to_value(item[source])
            same_source.append(f"#s{i} = :s{i}")
        else:
            same_source.append(f"attribute_not_exists(#s{i})")
    sets, removes, differs = [], [], []
    for i, (name, value) in enumerate(sorted(wanted.items())):
        names[f"#d{i}"] = name
        if value is None:
            removes.append(f"#d{i}")
            differs.append(f"attribute_exists(#d{i})")
        else:
            values[f":d{i}"] = {"S": value}
            sets.append(f"#d{i} = :d{i}")
            differs.append(f"(attribute_not_exists(#d{i}) OR #d{i} <> :d{i})")
    update = " ".join(part for part in (
        "SET " + ", ".join(sets) if sets else "", "REMOVE " + ", ".join(removes) if removes else "") if part)
    kwargs: dict[str, Any] = {
        "TableName": table, "Key": {"user_id": {"N": str(item["user_id"])}}, "UpdateExpression": update,
        "ConditionExpression": " AND ".join(same_source) + " AND (" + " OR ".join(differs) + ")",
        "ExpressionAttributeNames": names}
    if values:
        kwargs["ExpressionAttributeValues"] = values
    try:
        with translated_errors(f"normalise {table}"):
            client("dynamodb").update_item(**kwargs)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True
