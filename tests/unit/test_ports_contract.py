"""The fakes keep the adapters' promises: the same cases on `tests/support/fakes.py` and on the DynamoDB adapters
(moto in-process), from items written as the console writes them (raw put_item, no derived index keys yet).

If a fake drifts from its adapter, the decisions' unit tests would prove rules on a world that does not exist;
this file is what stops that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from callhook.aws import to_item
from callhook.ports import InstanceSettings, Operators, Topics
from callhook.repositories.directory import DynamoInstanceSettings, DynamoOperators, DynamoTopics
from tests.support.fakes import FakeInstanceSettings, FakeOperators, FakeTopics

CONSOLE_OPERATORS: list[dict[str, Any]] = [
    {"user_id": 17, "email": "  Ann@Example.com ", "active": True, "ext": 101},
    {"user_id": 18, "email": "bob@example.com", "active": False, "ext": "102"},
    {"user_id": 5, "email": "ann@example.com", "active": "yes please"},  # a console typo
]


@pytest.fixture(params=["fake", "dynamo"])
def world(request: pytest.FixtureRequest) -> Callable[..., tuple[Operators, Topics, InstanceSettings]]:
    def build(operators: list[dict[str, Any]], aliases: list[str],
              default_setting: Any = None) -> tuple[Operators, Topics, InstanceSettings]:
        if request.param == "fake":
            from callhook.models.directory import parse_operator_id
            value = parse_operator_id(default_setting) if default_setting is not None else 1
            problem = None if value is not None else "unreadable"
            return FakeOperators(*operators), FakeTopics(*aliases), FakeInstanceSettings(value or 1, problem)
        env = request.getfixturevalue("aws")
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        for item in operators:
            ddb.put_item(TableName=env["OPERATORS_TABLE"], Item=to_item(item))
        for alias in aliases:
            ddb.put_item(TableName=env["TOPICS_TABLE"], Item=to_item({"alias": alias, "name": alias.title()}))
        if default_setting is not None:
            ddb.put_item(TableName=env["SETTINGS_TABLE"], Item=to_item({
                "key": "telephony_autotranscribe_default_operator_id", "value": default_setting}))
        return (DynamoOperators(env["OPERATORS_TABLE"]), DynamoTopics(env["TOPICS_TABLE"]),
                DynamoInstanceSettings(env["SETTINGS_TABLE"]))
    return build


def test_by_email_ignores_case_and_spaces_and_sets_invalid_items_apart(world: Callable[..., Any]) -> None:
    operators, _, _ = world(CONSOLE_OPERATORS, [])
    found = operators.by_email("ann@EXAMPLE.com")
    assert [o.user_id for o in found.operators] == [17]
    assert [i.item_id for i in found.invalid] == ["5"]
    assert operators.by_email("nobody@example.com").operators == []


def test_by_ext_matches_numbers_and_strings_alike_and_keeps_inactive(world: Callable[..., Any]) -> None:
    operators, _, _ = world(CONSOLE_OPERATORS, [])
    assert [o.user_id for o in operators.by_ext("101").operators] == [17]
    found = operators.by_ext("102").operators
    assert [(o.user_id, o.active) for o in found] == [(18, False)]
    assert operators.by_ext("999").operators == []


def test_get_returns_valid_operators_only(world: Callable[..., Any]) -> None:
    operators, _, _ = world(CONSOLE_OPERATORS, [])
    found = operators.get(17)
    assert found is not None and found.email == "Ann@Example.com"
    assert operators.get(5) is None and operators.get(99) is None


def test_topics_exist_by_exact_alias_and_list_every_alias(world: Callable[..., Any]) -> None:
    _, topics, _ = world([], ["sales", "support"])
    assert topics.exists("sales") and not topics.exists("Sales") and not topics.exists("sales ")
    assert sorted(topics.aliases()) == ["sales", "support"]


@pytest.mark.parametrize(("stored", "expected"), [(None, 1), (7, 7), ("7", 7), ("seven", 1)],
                         ids=["unset", "number", "numeric-string", "unreadable"])
def test_the_default_operator_setting(world: Callable[..., Any], stored: Any, expected: int) -> None:
    _, _, instance = world([], [], stored)
    operator_id, problem = instance.default_operator_id()
    assert operator_id == expected
    assert (problem is not None) == (stored == "seven")
