"""DynamoDB adapters of `callhook.ports`: the operator directory, topics, instance settings, Action Jail, channels.

Each holds only its table's name; the client comes from `callhook.aws` per call, so one adapter built at cold
start serves every invocation of a warm sandbox. Error translation is the repositories' own (`_dynamo`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from callhook.errors import ActionNotFoundError
from callhook.models.action import Action, parse_action
from callhook.models.channel import Channel, describe_validation_error
from callhook.models.directory import Operator, OperatorLookup
from callhook.repositories.config import (
    ConfigTable,
    find_operators_by_email,
    find_operators_by_ext,
    get_channel,
    get_operator,
    get_topic,
    list_topic_aliases,
    read_default_operator_id,
    write_operator_derived,
)


@dataclass(frozen=True)
class DynamoOperators:
    table: str

    def by_email(self, email: str) -> OperatorLookup:
        return find_operators_by_email(self.table, email)

    def by_ext(self, ext: str) -> OperatorLookup:
        return find_operators_by_ext(self.table, ext)

    def get(self, user_id: int) -> Operator | None:
        return get_operator(self.table, user_id)

    def write_derived(self, item: dict[str, Any], wanted: dict[str, str | None]) -> bool:
        return write_operator_derived(self.table, item, wanted)


@dataclass(frozen=True)
class DynamoTopics:
    table: str

    def exists(self, alias: str) -> bool:
        return get_topic(self.table, alias) is not None

    def aliases(self) -> list[str]:
        return list_topic_aliases(self.table)


@dataclass(frozen=True)
class DynamoInstanceSettings:
    table: str

    def default_operator_id(self) -> tuple[int, str | None]:
        return read_default_operator_id(self.table)


def load_action(actions_table: str, action_id: str) -> Action:
    """Raises ActionNotFoundError (also for an item that fails validation, with every problem named)."""
    item = ConfigTable(actions_table, "action_id").get(action_id)
    if item is None:
        raise ActionNotFoundError(f"no action {action_id!r} in Action Jail", action_id=action_id)
    try:
        return parse_action(item)
    except ValidationError as exc:
        raise ActionNotFoundError(f"action {action_id!r} is invalid: {describe_validation_error(exc)}",
                                  action_id=action_id) from exc


@dataclass(frozen=True)
class DynamoActions:
    table: str

    def get(self, action_id: str) -> Action:
        return load_action(self.table, action_id)


@dataclass(frozen=True)
class DynamoChannels:
    table: str

    def get(self, channel_id: str) -> Channel | None:
        return get_channel(self.table, channel_id)

    def ids(self) -> list[str]:
        return [str(item["channel_id"]) for item in ConfigTable(self.table, "channel_id").scan_all()
                if item.get("channel_id")]
