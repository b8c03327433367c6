"""Large payloads by reference and poison isolation on the local stack (docs/webhook-api.md "Size").

A body under the API's limit that decodes past DynamoDB's 400 KB item (cp1252: each 0x80 byte becomes "€", three
bytes of UTF-8) becomes a dialog like any other: its parsed body lives in the bucket beside the dialog, the dialog
points at it, Enrich reads it through the pointer under its own role, `callhook dialog get` shows it, and erasure and
retention delete it with the dialog. Kept requests (spooled, held) that fail for a reason of their own are set aside
with that reason, and the good ones after them become dialogs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from callhook.models.dialog import make_dialog_id
from callhook.repositories.spool import SET_ASIDE_PREFIX, SPOOL_PREFIX
from callhook_local.fake_pbx import FakePBX
from callhook_local.faults import dynamodb_put_fails, dynamodb_put_refused
from callhook_local.ttl import TtlSweeper
from tests.integration.test_cli_support import Cli
from tests.integration.test_storage_first import broken_channel, console_put, wait_for_dialog
from tests.support.stack import StackClient, reconcile, unique

MAPPING = {"call_id": "id", "caller": "from", "callee": "to"}
DAY = 86_400


@pytest.fixture
def cli(stack: StackClient) -> Cli:
    return Cli(stack.stack)


@pytest.fixture
def ttl(stack: StackClient) -> Iterator[TtlSweeper]:
    assert stack.stack.ttl is not None
    yield stack.stack.ttl
    stack.stack.ttl.reset_clock()


def cp1252_body(call_id: str, filler_bytes: int = 250_000) -> bytes:
    return (b'{"id": "' + call_id.encode() + b'", "from": "+12025550143", "note": "' + b"\x80" * filler_bytes
            + b'"}')


def post_cp1252(stack: StackClient, channel: dict[str, Any], body: bytes) -> Any:
    return stack.post(channel, data=body, headers={"Content-Type": "application/json; charset=cp1252"})


def bucket_keys(stack: StackClient, prefix: str) -> list[str]:
    resp = stack.stack.client("s3").list_objects_v2(Bucket=stack.env["RECORDINGS_BUCKET"], Prefix=prefix)
    return [o["Key"] for o in resp.get("Contents", [])]


def test_a_body_that_decodes_past_the_item_limit_becomes_a_dialog_read_through_its_pointer(
        stack: StackClient, demo: FakePBX, cli: Cli) -> None:
    # Given a channel whose enrichment action sees the call (Enrich reads the body through the pointer)
    ch = stack.channel(webhook_enrich_action="demo-pbx-lookup", allow_private_network=True,
                       advanced_config={"field_mapping": MAPPING})
    call_id = unique("big")
    demo.set_call(call_id, email="ann@example.com", line="online")
    body = cp1252_body(call_id)
    assert len(body) < 262_144 < len(body.decode("cp1252").encode())  # under the API's limit, over once decoded
    # When the provider sends it
    answer = post_cp1252(stack, ch, body)
    # Then it is a dialog, answered 200 accepted, not spooled
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "accepted" and "reason" not in answer.json()
    dialog_id = answer.json()["dialog_id"]
    assert stack.wait_execution(dialog_id)["status"] == "SUCCEEDED"
    dialog = stack.dialog(dialog_id)
    assert dialog is not None and dialog.raw_ref is not None and dialog.telephony.raw == {}
    assert dialog.raw_ref.s3_key in bucket_keys(stack, f"payloads/{ch['channel_id']}/{dialog_id}.")
    assert dialog.telephony.caller == "+12025550143"
    # And Enrich ran the action with the whole call (its role may read the object), so the operator was assigned
    assert dialog.enrichment.status == "ok" and dialog.operator_id == 17
    # And the item itself stays far under 400 KB
    item = stack.stack.client("dynamodb").get_item(TableName=stack.env["DIALOGS_TABLE"],
                                                   Key={"dialog_id": {"S": dialog_id}})["Item"]
    assert len(json.dumps(item)) < 20_000
    # And `callhook dialog get` prints the body as the provider sent it
    shown = cli.json("dialog", "get", dialog_id)
    assert shown["telephony"]["raw"]["note"] == "€" * 250_000 and shown["telephony"]["raw"]["id"] == call_id
    # And a replay of the dialog reads it through the same pointer
    replayed = cli.json("dialog", "replay", dialog_id, "--wait", "--timeout", "60")
    assert replayed["status"] == "SUCCEEDED"
    again = stack.dialog(dialog_id)
    assert again is not None and again.raw_ref == dialog.raw_ref and again.enrichment.status == "ok"


def test_a_large_body_goes_with_its_dialog_on_erasure(stack: StackClient, cli: Cli) -> None:
    ch = stack.channel(advanced_config={"field_mapping": MAPPING})
    answer = post_cp1252(stack, ch, cp1252_body(unique("big")))
    assert answer.status_code == 200, answer.text
    dialog_id = answer.json()["dialog_id"]
    prefix = f"payloads/{ch['channel_id']}/{dialog_id}."
    assert len(bucket_keys(stack, prefix)) == 1
    # When
    record = cli.json("dialog", "erase", dialog_id)
    # Then
    assert record["dialog_ids"] == [dialog_id] and record["objects_deleted"] == 1
    assert bucket_keys(stack, prefix) == [] and stack.dialog(dialog_id) is None


def test_a_large_body_expires_with_its_dialog(stack: StackClient, ttl: TtlSweeper) -> None:
    ch = stack.channel(retention_days=3, advanced_config={"field_mapping": MAPPING})
    answer = post_cp1252(stack, ch, cp1252_body(unique("big")))
    dialog_id = answer.json()["dialog_id"]
    prefix = f"payloads/{ch['channel_id']}/{dialog_id}."
    assert len(bucket_keys(stack, prefix)) == 1
    # When the channel's retention has passed, DynamoDB's TTL removes the dialog (ExpireFunction, its own role)
    ttl.advance(4 * DAY)
    assert ttl.sweep() >= 1
    # Then its body goes too
    assert stack.dialog(dialog_id) is None
    assert bucket_keys(stack, prefix) == []


# ------------------------------------------------------------------------------------------------ poison isolation


def test_a_poisoned_spooled_request_is_set_aside_and_the_good_ones_after_it_become_dialogs(
        stack: StackClient, cli: Cli) -> None:
    # Given three calls spooled while the dialog store failed, the first one an item DynamoDB will refuse
    ch = stack.channel(advanced_config={"field_mapping": MAPPING})
    marker = f"poison-{uuid.uuid4().hex[:8]}"
    calls = [unique(marker), unique("good"), unique("good")]
    with dynamodb_put_fails(stack.env["DIALOGS_TABLE"], times=100):
        for call_id in calls:
            answer = stack.post(ch, json_body={"id": call_id, "from": "+12025550143"})
            assert answer.status_code == 202 and answer.json()["reason"] == "spooled", answer.text
    # And an object in the spool that is no spooled request at all, older than all of them
    unreadable = f"{SPOOL_PREFIX}0000-{marker}.json"
    stack.stack.client("s3").put_object(Bucket=stack.env["RECORDINGS_BUCKET"], Key=unreadable, Body=b'{"trunc')
    # When the reconciler drains the spool while the table refuses the poisoned item (and only that one)
    with dynamodb_put_refused(stack.env["DIALOGS_TABLE"], marker) as refused:
        report = reconcile(stack)["spool"]
    # Then the good ones are dialogs, the poisoned one and the unreadable object are set aside, nothing waits
    assert refused.hits == 1
    for call_id in calls[1:]:
        wait_for_dialog(stack, make_dialog_id(ch["channel_id"], call_id))
    assert stack.dialog_for(ch, calls[0]) is None
    assert report["spool_waiting"] == 0 and len(report["set_aside"]) == 2
    assert not [k for k in bucket_keys(stack, SPOOL_PREFIX) if marker in k or ch["channel_id"] in k]
    assert f"{SET_ASIDE_PREFIX}0000-{marker}.json" in bucket_keys(stack, SET_ASIDE_PREFIX)
    # And the CLI shows the set-aside request with its reason, and the unreadable object
    listed = cli.json("events", "list", "--channel", ch["channel_id"], "--set-aside")
    (aside,) = listed["items"]
    assert (aside["kind"], aside["reason"], aside["set_aside_from"]) == ("set_aside", "item_refused", "spool")
    assert "Item size has exceeded" in aside["message"]
    assert f"{SET_ASIDE_PREFIX}0000-{marker}.json" in listed["unreadable_spool_objects"]
    # And once the cause is gone, replaying it makes its dialog
    replayed = cli.json("events", "replay", aside["event_id"])
    assert replayed["outcome"] == "accepted"
    wait_for_dialog(stack, make_dialog_id(ch["channel_id"], calls[0]))


def test_a_poisoned_held_request_is_set_aside_and_the_good_ones_after_it_become_dialogs(
        stack: StackClient, cli: Cli) -> None:
    # Given a channel broken in the console, and three calls held, the first one an item DynamoDB will refuse
    channel = broken_channel(stack)
    marker = f"poison-{uuid.uuid4().hex[:8]}"
    calls = [unique(marker), unique("good"), unique("good")]
    for call_id in calls:
        answer = stack.post(channel, json_body={"id": call_id})
        assert answer.status_code == 202 and answer.json()["status"] == "held", answer.text
    # When the admin fixes the item in the console while the table refuses the poisoned item
    with dynamodb_put_refused(stack.env["DIALOGS_TABLE"], marker):
        fixed = {**channel, "advanced_config": {"field_mapping": {"call_id": "id"}}}
        console_put(stack, "CHANNELS_TABLE", fixed)
        for call_id in calls[1:]:
            wait_for_dialog(stack, make_dialog_id(channel["channel_id"], call_id))
    # Then the poisoned one is set aside with its reason, out of the held index; the good ones are dialogs
    assert stack.dialog_for(channel, calls[0]) is None
    listed = cli.json("events", "list", "--channel", channel["channel_id"], "--set-aside")
    (aside,) = listed["items"]
    assert (aside["kind"], aside["reason"], aside["set_aside_from"]) == ("set_aside", "item_refused", "held")
    assert reconcile(stack)["held"]["released"] == []
