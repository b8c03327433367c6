"""The config-stream services' decisions on decoded items and in-memory ports (milliseconds): CheckConfig's verdicts
(services/config_check.py) and NormalizeOperator's derived keys (services/operators.py). The same functions on
the stream events of events/: tests/unit/test_config_stream_functions.py; on the local stack's streams:
tests/integration/test_local_stack_streams.py; the fakes against their adapters: test_ports_contract.py."""

from __future__ import annotations

from typing import Any

import pytest

from callhook.ports import WrittenItem
from callhook.services.config_check import check_stored, check_written
from callhook.services.operators import normalize_operators
from tests.support.fakes import FakeConfigItems, FakeOperators

VALID_CHANNEL = {"channel_id": "main", "webhook_token": "main-channel-token-0001"}
INVALID_CHANNEL = {"channel_id": "broken", "webhook_token": "broken-channel-token-01",
                   "advanced_config": {"accept_when": "nosuchfn(a)", "field_mapping": {"caller": "call.from[["}}}
ACTION = {"action_id": "crm", "type": "http", "request": {"url": "https://crm.example.com/{telephony.call_id}"},
          "result": {"operator_email": "data.agent.email"}}


def written(item: dict[str, Any], key: str) -> WrittenItem:
    return WrittenItem(keys=frozenset({key}), item=item)


def test_every_invalid_field_of_a_written_channel_is_named() -> None:
    [check] = check_written([written(INVALID_CHANNEL, "channel_id")])
    assert (check.kind, check.item_id, check.valid) == ("channel", "broken", False)
    assert sorted(check.invalid_fields) == ["advanced_config.accept_when", "advanced_config.field_mapping.caller"]


def test_the_kind_comes_from_the_key_so_one_function_serves_both_streams() -> None:
    # An action item that carries a channel_id attribute (a typo) is judged as an action: its key says so
    checks = check_written([written(VALID_CHANNEL, "channel_id"), written(ACTION, "action_id"),
                            written(ACTION | {"channel_id": "main"}, "action_id"), written({"user_id": 17}, "user_id")])
    assert [(c.kind, c.item_id, c.valid) for c in checks] == [("channel", "main", True), ("action", "crm", True),
                                                              ("action", "crm", False)]


def test_an_invalid_action_is_named_too() -> None:
    [check] = check_written([written(ACTION | {"result": {"operator_email": "nosuchfn(data)"}}, "action_id")])
    assert check.kind == "action" and not check.valid and check.invalid_fields == ["result.operator_email"]


def test_stored_items_are_checked_one_or_all_in_key_order() -> None:
    table = FakeConfigItems("channel_id", VALID_CHANNEL, INVALID_CHANNEL)
    assert [(c.item_id, c.valid) for c in check_stored("channel", table)] == [("broken", False), ("main", True)]
    assert [c.item_id for c in check_stored("channel", table, "main")] == ["main"]
    with pytest.raises(LookupError, match="no channel 'gone'"):
        check_stored("channel", table, "gone")


def test_a_console_operator_gets_its_index_keys_once() -> None:
    item = {"user_id": 17, "email": "  Ann@Example.com ", "active": True, "ext": 101}
    operators = FakeOperators(dict(item))
    first = normalize_operators([written(item, "user_id")], operators)
    assert (first.written, first.unchanged, first.invalid) == (["17"], 0, [])
    stored = operators.items[0]
    assert (stored["email_key"], stored["ext_key"]) == ("ann@example.com", "101")
    # Its own write comes back on the stream: nothing to do, nothing written
    again = normalize_operators([written(dict(stored), "user_id")], operators)
    assert (again.written, again.unchanged, operators.writes) == ([], 1, 1)


def test_an_invalid_operator_is_still_made_findable_and_reported() -> None:
    item = {"user_id": 5, "email": "bob@example.com", "active": "yes please"}
    operators = FakeOperators(dict(item))
    report = normalize_operators([written(item, "user_id")], operators)
    assert report.written == ["5"] and [i.item_id for i in report.invalid] == ["5"]
    assert operators.items[0]["email_key"] == "bob@example.com"


def test_a_record_older_than_the_stored_operator_writes_nothing() -> None:
    operators = FakeOperators({"user_id": 17, "email": "new@example.com"})
    report = normalize_operators([written({"user_id": 17, "email": "old@example.com"}, "user_id")], operators)
    assert (report.written, report.unchanged, operators.writes) == ([], 1, 0)
    assert "email_key" not in operators.items[0]
