"""The stream-triggered functions on the events of events/ (the same files `make invoke` uses)."""

from __future__ import annotations

from typing import Any

import boto3

from callhook.aws import from_item, to_item
from functions.check_config import app as check_app
from functions.normalize_operator import app as normalize_app
from tests.unit.conftest import FakeContext, load_event


def test_check_config_names_every_invalid_field_of_a_channel(lambda_context: FakeContext) -> None:
    out = check_app.handler(load_event("check_config/invalid_channel"), lambda_context)
    assert out["checked"] == 1
    [invalid] = out["invalid"]
    assert invalid["item_id"] == "main" and invalid["kind"] == "channel"
    assert sorted(p["path"] for p in invalid["problems"]) == ["advanced_config.accept_when",
                                                              "advanced_config.field_mapping.caller"]


def test_normalize_operator_writes_the_derived_keys_once(aws: dict[str, str], lambda_context: FakeContext) -> None:
    # Given the console-written operator of the event, stored as the event shows it
    event = load_event("normalize_operator/console_put")
    event["Records"][0]["eventSourceARN"] = "arn:aws:dynamodb:us-east-1:123456789012:table/unit/stream/x"
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    table = aws["OPERATORS_TABLE"]
    ddb.put_item(TableName=table, Item=event["Records"][0]["dynamodb"]["NewImage"])
    # When the function gets the record
    first = normalize_app.handler(event, lambda_context)
    # Then the keys are written, and a second delivery (its own write, or a retry) writes nothing
    stored = from_item(ddb.get_item(TableName=table, Key={"user_id": {"N": "17"}})["Item"])
    assert stored["email_key"] == "ann@example.com" and stored["ext_key"] == "101"
    assert first["written"] == ["17"]
    assert normalize_app.handler(event, lambda_context)["written"] == []
    # And the operator is found through both indexes
    by_ext = ddb.query(TableName=table, IndexName="by_ext_key", KeyConditionExpression="ext_key = :x",
                       ExpressionAttributeValues={":x": {"S": "101"}})["Items"]
    assert [from_item(i)["user_id"] for i in by_ext] == [17]


def test_normalize_operator_leaves_a_newer_write_to_its_own_record(aws: dict[str, str],
                                                                   lambda_context: FakeContext) -> None:
    # Given the stored item already changed since the record (its email is another one now)
    event = load_event("normalize_operator/console_put")
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    table = aws["OPERATORS_TABLE"]
    newer: dict[str, Any] = {"user_id": 17, "email": "other@example.com", "active": True}
    ddb.put_item(TableName=table, Item=to_item(newer))
    # When the old record arrives, nothing is written from it
    assert normalize_app.handler(event, lambda_context)["written"] == []
    assert "email_key" not in from_item(ddb.get_item(TableName=table, Key={"user_id": {"N": "17"}})["Item"])


def test_a_stale_index_entry_does_not_match_and_the_current_email_is_found(aws: dict[str, str]) -> None:
    from callhook.repositories.config import find_operators_by_email, find_operators_by_ext

    # Given an operator whose email was edited in the console after its derived keys were written
    table = aws["OPERATORS_TABLE"]
    boto3.client("dynamodb", region_name="us-east-1").put_item(TableName=table, Item=to_item({
        "user_id": 21, "email": "New@Example.com", "ext": 7, "email_key": "old@example.com", "ext_key": "6"}))
    # Then the old email and extension find nobody, the current ones find the operator (by the scan)
    assert find_operators_by_email(table, "old@example.com").operators == []
    assert find_operators_by_ext(table, "6").operators == []
    found = find_operators_by_email(table, " NEW@example.com")
    assert [o.user_id for o in found.operators] == [21] and found.scanned
    assert [o.user_id for o in find_operators_by_ext(table, "7").operators] == [21]
