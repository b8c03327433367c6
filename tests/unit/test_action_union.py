"""Actions are `HttpAction | LambdaAction`, told apart by `type`: the console's raw JSON still validates,
and every error still names the item's own field path, as `callhook action check` prints it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from callhook.models.action import HttpAction, LambdaAction, parse_action
from callhook.models.problems import problems_of
from callhook.services.actions import preview_request
from callhook.services.config_check import action_problems

HTTP = {"action_id": "crm", "request": {"url": "https://crm.example.com/calls/{telephony.call_id}"}}


def _problems(item: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        parse_action(item)
    assert caught.value.title == "Action"
    return {p.path: p.message for p in problems_of(caught.value)}


def test_parse_action_without_type_is_an_http_action() -> None:
    # Given an item as the console writes it: no `type`, numbers as DynamoDB returns them
    item = {**HTTP, "request": {**HTTP["request"], "timeout_s": Decimal("2.5")}, "max_response_bytes": Decimal(100)}
    # When
    action = parse_action(item)
    # Then
    assert isinstance(action, HttpAction)
    assert (action.type, action.request.timeout_s, action.target) == (
        "http", 2.5, "GET https://crm.example.com/calls/{telephony.call_id}")


def test_parse_action_with_type_lambda_is_a_lambda_action() -> None:
    # Given / When
    action = parse_action({"action_id": "crm", "type": "lambda", "function_name": "callhook-action-crm-lookup"})
    # Then
    assert isinstance(action, LambdaAction)
    assert (action.target, action.secrets) == ("lambda:callhook-action-crm-lookup", {})
    preview = preview_request(action, {})
    assert preview is not None and preview.url == "lambda:callhook-action-crm-lookup"


def test_an_unknown_type_is_named_at_its_path() -> None:
    assert _problems({**HTTP, "type": "ftp"}) == {"type": "Input should be 'http' or 'lambda'"}


def test_an_item_that_is_not_an_object_is_named_as_the_item() -> None:
    assert list(_problems("crm")) == ["(item)"]


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({**HTTP, "request": {**HTTP["request"], "timeout_s": 31}}, {"request.timeout_s"}),
        ({**HTTP, "result": {"topic": "data.[x"}, "typo": 1}, {"result.topic", "typo"}),
        ({"action_id": "crm", "type": "lambda", "function_name": "callhook-action-f", "max_response_bytes": 0},
         {"max_response_bytes"}),
    ],
)
def test_errors_name_the_items_own_field_paths_without_the_union_tag(item: dict[str, Any],
                                                                       expected: set[str]) -> None:
    # Given / When / Then: no `http.` / `lambda.` prefix, as `action check` and `action put` print them
    assert set(_problems(item)) == expected
    assert {p.path for p in action_problems(item)} == expected


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"action_id": "crm"}, "an http action needs `request`"),
        ({"action_id": "crm", "type": "lambda"}, "a lambda action needs `function_name`"),
        ({**HTTP, "type": "lambda", "function_name": "callhook-action-f"}, "a lambda action takes no `request`"),
        ({"action_id": "crm", "type": "lambda", "function_name": "callhook-action-f",
          "secrets": {"k": "ssm:/callhook/k"}},
         "a lambda action takes no `secrets`"),
    ],
)
def test_the_other_kinds_fields_are_named_with_why(item: dict[str, Any], message: str) -> None:
    problems = _problems(item)
    assert list(problems) == ["(item)"]
    assert problems["(item)"].startswith(message)
