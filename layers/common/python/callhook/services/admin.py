"""Configuration writes shared by the admin CLI and the local demo: validate with the functions' own models."""

from __future__ import annotations

import secrets
from typing import Any

from callhook.models.action import Action
from callhook.models.channel import Channel
from callhook.models.directory import Operator, Topic
from callhook.repositories.config import ConfigTable, VersionConflictError, clear_channel_cache


def new_webhook_token() -> str:
    return secrets.token_urlsafe(24)


def put_channel(table: str, data: dict[str, Any], *, expected_version: int | None = None) -> Channel:
    """Validate (raising pydantic's ValidationError with every field path), fill a token, bump the version.

    Raises:
        pydantic.ValidationError: the item is invalid; nothing is written.
        VersionConflictError: `expected_version` given and someone else saved the channel meanwhile.
    """
    data = dict(data)
    if not data.get("webhook_token") and not data.get("signature"):
        data["webhook_token"] = new_webhook_token()
    channel = Channel.model_validate(data)
    store = ConfigTable(table, "channel_id")
    current = store.get(channel.channel_id)
    version = int(current.get("version", 0)) if current else 0
    if expected_version is not None and expected_version != version:
        raise VersionConflictError(f"channel {channel.channel_id} is at version {version}, not {expected_version}")
    saved = channel.model_copy(update={"version": version + 1})
    store.put(saved.model_dump(mode="json", exclude_none=True), expected_version=version if current else None)
    clear_channel_cache()
    return saved


def put_operator(table: str, data: dict[str, Any]) -> Operator:
    operator = Operator.model_validate(data)
    ConfigTable(table, "user_id", "N").put(operator.item())
    return operator


def put_topic(table: str, data: dict[str, Any]) -> Topic:
    topic = Topic.model_validate(data)
    ConfigTable(table, "alias").put(topic.model_dump(mode="json"))
    return topic


def put_action(table: str, data: dict[str, Any]) -> Action:
    action = Action.model_validate(data)
    ConfigTable(table, "action_id").put(action.model_dump(mode="json", exclude_none=True))
    return action


def set_setting(table: str, key: str, value: Any) -> None:
    ConfigTable(table, "key").put({"key": key, "value": value})
