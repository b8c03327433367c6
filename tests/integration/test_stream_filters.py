"""Event source mappings apply their FilterCriteria on the local stack as on AWS (callhook_local.streams): the dialogs
table's stream reaches ExpireFunction only for TTL's own removals, never inside an ordinary write (moto invoked it
synchronously inside every PutItem/UpdateItem/DeleteItem of the table, each write waiting for a sandbox)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from callhook_local import streams
from callhook_local.ttl import TtlSweeper
from tests.support.stack import StackClient

EXPIRE_PATTERN = ('{"eventName": ["REMOVE"], "userIdentity": {"type": ["Service"], '
                  '"principalId": ["dynamodb.amazonaws.com"]}}')


@pytest.fixture
def ttl(stack: StackClient) -> Iterator[TtlSweeper]:
    assert stack.stack.ttl is not None
    yield stack.stack.ttl
    stack.stack.ttl.reset_clock()


def _expire_invocations(stack: StackClient) -> int:
    assert stack.stack.sandboxes is not None
    pool = stack.stack.sandboxes.pools.get(stack.stack.physical("ExpireFunction"))
    return pool.invocations if pool else 0


def test_writes_of_dialogs_do_not_reach_expire_but_ttl_removals_do(stack: StackClient, ttl: TtlSweeper) -> None:
    ddb = stack.stack.client("dynamodb")
    table = stack.env["DIALOGS_TABLE"]
    key = {"dialog_id": {"S": f"filter-{uuid.uuid4().hex[:8]}"}}
    before = _expire_invocations(stack)
    # When a dialog is written, updated and deleted through the API (as the functions and `dialog erase` do)
    ddb.put_item(TableName=table, Item={**key, "expires_at": {"N": str(int(time.time()) + 86400)}})
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "x"},
                    ExpressionAttributeValues={":s": {"S": "y"}})
    ddb.delete_item(TableName=table, Key=key)
    # Then ExpireFunction was never invoked: its FilterCriteria keeps only TTL's removals
    assert _expire_invocations(stack) == before
    # When an expired dialog is removed by TTL
    ddb.put_item(TableName=table, Item={**key, "expires_at": {"N": str(int(time.time()) - 1)}})
    assert _expire_invocations(stack) == before
    assert ttl.sweep() >= 1
    # Then that removal reached ExpireFunction, once
    assert _expire_invocations(stack) == before + 1


def test_filter_patterns_match_as_lambda_event_filtering() -> None:
    removal = {"eventName": "REMOVE", "eventSource": "aws:dynamodb", "dynamodb": {"Keys": {"pk": {"S": "a"}}}}
    by_ttl = {**removal, "userIdentity": dict(streams.TTL_IDENTITY)}
    expire = {"Filters": [{"Pattern": EXPIRE_PATTERN}]}
    writes = {"Filters": [{"Pattern": '{"eventName": ["INSERT", "MODIFY"]}'}]}
    assert streams.matches(expire, by_ttl)
    assert not streams.matches(expire, removal)  # a user's DeleteItem
    assert not streams.matches(expire, {**by_ttl, "eventName": "MODIFY"})
    assert streams.matches(writes, {**removal, "eventName": "MODIFY"})
    assert not streams.matches(writes, removal)
    assert streams.matches(None, removal) and streams.matches({"Filters": []}, removal)  # no filter: all pass
    either = {"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}, {"Pattern": '{"eventName": ["REMOVE"]}'}]}
    assert streams.matches(either, removal)  # any pattern of the list
