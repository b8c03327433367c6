"""Configuration tables admins edit: channels, operators, topics, actions and instance settings."""

from __future__ import annotations

import threading
import time
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from callhook.aws import client, from_item, to_item
from callhook.errors import ChannelConfigError
from callhook.models.channel import Channel, describe_validation_error
from callhook.models.directory import DEFAULT_OPERATOR_ID, DEFAULT_OPERATOR_SETTING, Operator, Topic
from callhook.repositories._dynamo import translated_errors

OPERATOR_EMAIL_INDEX = "by_email"
OPERATOR_EXT_INDEX = "by_ext"


class VersionConflictError(Exception):
    """An optimistic write lost the race: someone changed the item since it was read."""


class ConfigTable:
    """Key-value access shared by the configuration tables."""

    def __init__(self, table_name: str, key: str, key_type: str = "S") -> None:
        self.table, self.key, self.key_type = table_name, key, key_type

    def _key(self, value: Any) -> dict[str, Any]:
        return {self.key: {self.key_type: str(value)}}

    def get(self, key: Any) -> dict[str, Any] | None:
        with translated_errors(f"read {self.table}"):
            resp = client("dynamodb").get_item(TableName=self.table, Key=self._key(key))
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


def parse_channel(item: dict[str, Any]) -> Channel:
    """Raises ChannelConfigError naming every problem: it fails that channel's webhooks only."""
    try:
        return Channel.model_validate(item)
    except ValidationError as exc:
        raise ChannelConfigError(f"channel {item.get('channel_id')!r} is invalid: {describe_validation_error(exc)}") \
            from exc


def get_channel(table: str, channel_id: str, *, cache_seconds: float = 0) -> Channel | None:
    """The channel by key, cached for `cache_seconds`. None if unknown.

    Raises:
        ChannelConfigError: the stored item fails validation.
    """
    cache_key = f"{table}/{channel_id}"
    if cache_seconds > 0 and (cached := _channel_cache.get(cache_key, cache_seconds)) is not None:
        item = cached
    else:
        item = ConfigTable(table, "channel_id").get(channel_id) or {}
        if cache_seconds > 0:
            _channel_cache.set(cache_key, item)
    return parse_channel(item) if item else None


def find_operator_by_email(table: str, email_key: str) -> list[Operator]:
    """Operators whose normalised email matches (usually one), through the email index."""
    with translated_errors("find operator"):
        resp = client("dynamodb").query(
            TableName=table, IndexName=OPERATOR_EMAIL_INDEX, KeyConditionExpression="email_key = :e",
            ExpressionAttributeValues={":e": {"S": email_key}})
    return [Operator.model_validate({k: v for k, v in from_item(i).items() if k != "email_key"})
            for i in resp.get("Items", [])]


def find_operator_by_ext(table: str, ext: str) -> list[Operator]:
    with translated_errors("find operator"):
        resp = client("dynamodb").query(
            TableName=table, IndexName=OPERATOR_EXT_INDEX, KeyConditionExpression="ext = :x",
            ExpressionAttributeValues={":x": {"S": ext}})
    return [Operator.model_validate({k: v for k, v in from_item(i).items() if k != "email_key"})
            for i in resp.get("Items", [])]


def get_operator(table: str, user_id: int) -> Operator | None:
    item = ConfigTable(table, "user_id", "N").get(user_id)
    return None if item is None else Operator.model_validate({k: v for k, v in item.items() if k != "email_key"})


def get_topic(table: str, alias: str) -> Topic | None:
    item = ConfigTable(table, "alias").get(alias)
    return None if item is None else Topic.model_validate(item)


def list_topic_aliases(table: str) -> list[str]:
    return sorted(str(i["alias"]) for i in ConfigTable(table, "alias").scan_all())


def get_setting(table: str, key: str, default: Any = None) -> Any:
    item = ConfigTable(table, "key").get(key)
    return default if item is None else item.get("value", default)


def default_operator_id(table: str) -> int:
    value = get_setting(table, DEFAULT_OPERATOR_SETTING, DEFAULT_OPERATOR_ID)
    try:
        return int(value)
    except (TypeError, ValueError):
        return DEFAULT_OPERATOR_ID
