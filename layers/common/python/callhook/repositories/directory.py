"""DynamoDB adapters of `callhook.ports`: the operator directory, topics and instance settings.

Each holds only its table's name; the client comes from `callhook.aws` per call, so one adapter built at cold
start serves every invocation of a warm sandbox. Error translation is the repositories' own (`_dynamo`).
"""

from __future__ import annotations

from dataclasses import dataclass

from callhook.models.directory import Operator, OperatorLookup
from callhook.repositories.config import (
    find_operators_by_email,
    find_operators_by_ext,
    get_operator,
    get_topic,
    list_topic_aliases,
    read_default_operator_id,
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
