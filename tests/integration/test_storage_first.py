"""Answered 2xx ⇔ durably kept (docs/webhook-api.md): every authenticated webhook is kept before it is answered,
whatever fails after authentication — a broken channel item, a failing dialog store, a workflow that cannot start.

Channel items are broken and fixed the way admins do it in the DynamoDB console: a raw put_item of the item JSON.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from callhook.models.dialog import make_dialog_id
from callhook.models.event import RawEventKind
from callhook.repositories.events import EventRepository
from callhook.repositories.spool import SPOOL_PREFIX
from callhook.services.signatures import twilio_signature
from callhook_local.faults import dynamodb_put_fails, s3_put_fails
from tests.support.providers import FORM, send, webhook_url
from tests.support.stack import StackClient, reconcile, unique

MAPPING = {"call_id": "id", "recording_url": "recording"}
_serialize = TypeSerializer().serialize


def console_put(stack: StackClient, table_env: str, item: dict[str, Any]) -> None:
    """What the DynamoDB console does: the item as typed, no model, no derived attributes."""
    stack.stack.client("dynamodb").put_item(TableName=stack.env[table_env],
                                            Item={k: _serialize(v) for k, v in item.items()})


def broken_channel(stack: StackClient, **extra: Any) -> dict[str, Any]:
    """A channel whose mapping an admin mistyped in the console (`call.from[[` is not JMESPath)."""
    item = {"channel_id": unique("broken"), "name": "typo", "active": True, "webhook_token": uuid.uuid4().hex,
            "advanced_config": {"field_mapping": {**MAPPING, "caller": "call.from[["}, **extra}}
    console_put(stack, "CHANNELS_TABLE", item)
    return item


def events_of(stack: StackClient, channel_id: str) -> list[Any]:
    found, _ = EventRepository(stack.env["EVENTS_TABLE"]).list_by_channel(channel_id, limit=100)
    return found


def spooled_keys(stack: StackClient) -> list[str]:
    resp = stack.stack.client("s3").list_objects_v2(Bucket=stack.env["RECORDINGS_BUCKET"], Prefix=SPOOL_PREFIX)
    return [o["Key"] for o in resp.get("Contents", [])]


def wait_for_dialog(stack: StackClient, dialog_id: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while (dialog := stack.dialog(dialog_id)) is None:
        assert time.monotonic() < deadline, f"dialog {dialog_id} never appeared"
        time.sleep(0.1)
    return dialog


# ------------------------------------------------------------------------------------------------ held


def test_a_broken_channel_holds_its_calls_and_the_reconciler_releases_them_in_order_once_fixed(
        stack: StackClient) -> None:
    # Given a channel item broken in the console, with an update event for recordings
    channel = broken_channel(stack, update_when="kind == 'recording'")
    call_id = unique("held")
    # When the provider sends the call, then its recording update
    first = stack.post(channel, json_body={"id": call_id, "kind": "call"})
    second = stack.post(channel, json_body={"id": call_id, "kind": "recording",
                                            "recording": "https://media.example.com/r.wav"})
    # Then both are kept and answered 202 held, and no dialog exists yet
    for answer in (first, second):
        assert answer.status_code == 202, answer.text
        assert answer.json()["status"] == "held"
        assert answer.json()["reason"] == "channel_misconfigured"
        assert answer.json()["event_id"].startswith("e-")
    dialog_id = make_dialog_id(channel["channel_id"], call_id)
    assert stack.dialog(dialog_id) is None
    held = {e.event_id: e for e in events_of(stack, channel["channel_id"])}
    assert {held[a.json()["event_id"]].kind for a in (first, second)} == {RawEventKind.HELD}
    # (the admin's view names the broken field; the provider's answer does not)
    assert "field_mapping" in (held[first.json()["event_id"]].message or "")
    assert "field_mapping" not in first.text
    # When the admin fixes the item in the console, the stream's release is lost (its function fails), and the
    # reconciler runs on its schedule (the safety net; the stream path is the next test)
    fixed = {**channel, "advanced_config": {"field_mapping": MAPPING, "update_when": "kind == 'recording'"}}
    with stack.stream_batch_fails("ReleaseHeldFunction"):  # its first attempt and every retry
        console_put(stack, "CHANNELS_TABLE", fixed)
    assert stack.dialog(dialog_id) is None
    report = reconcile(stack)
    # Then the call became its dialog, as if it had arrived then: same id, its arrival time, the update applied
    assert report["held"]["released"] == [first.json()["event_id"], second.json()["event_id"]]
    dialog = wait_for_dialog(stack, dialog_id)
    assert dialog.created_at == held[first.json()["event_id"]].received_at
    assert stack.wait_execution(dialog_id)["status"] == "SUCCEEDED"
    settled = stack.dialog(dialog_id)
    assert settled is not None and settled.telephony.recording_url == "https://media.example.com/r.wav"
    # and the events say what they became; a provider's late retry is a duplicate of the same dialog
    kinds = {e.event_id: (e.kind, e.dialog_id) for e in events_of(stack, channel["channel_id"])}
    assert kinds[first.json()["event_id"]] == (RawEventKind.RELEASED, dialog_id)
    assert stack.post(fixed, json_body={"id": call_id, "kind": "call"}).json() == \
        {"status": "duplicate", "dialog_id": dialog_id}
    assert len(stack.executions_of(dialog_id)) == 1


def test_a_still_broken_channel_keeps_its_calls_held(stack: StackClient) -> None:
    channel = broken_channel(stack)
    answer = stack.post(channel, json_body={"id": unique("call")})
    assert answer.status_code == 202
    report = reconcile(stack)
    assert channel["channel_id"] in report["held"]["still_held"]
    assert [e.kind for e in events_of(stack, channel["channel_id"])] == [RawEventKind.HELD]


def test_a_broken_channel_still_refuses_forged_calls(stack: StackClient) -> None:
    channel = broken_channel(stack)
    answer = stack.post(channel, json_body={"id": unique("forged")}, token="not-the-channel-token")
    assert answer.status_code == 401
    assert events_of(stack, channel["channel_id"]) == []


def test_a_channel_that_cannot_authenticate_is_503_storing_nothing_and_naming_no_detail(stack: StackClient) -> None:
    # Given an item whose credentials themselves are broken (a token too short to be one)
    item = {"channel_id": unique("noauth"), "webhook_token": "short", "advanced_config": {"field_mapping": MAPPING}}
    console_put(stack, "CHANNELS_TABLE", item)
    # When anyone posts to it
    answer = stack.post(item, json_body={"id": unique("call")})
    # Then nothing can tell a genuine call from a forged one: 503, nothing kept, no configuration detail answered
    assert answer.status_code == 503
    assert answer.json()["reason"] == "channel_misconfigured"
    assert "webhook_token" not in answer.text and "16" not in answer.json()["message"]
    assert events_of(stack, item["channel_id"]) == []


# ------------------------------------------------------------------------------------------------ spool


def test_dialog_store_and_spool_both_failing_is_503_with_nothing_half_kept(stack: StackClient) -> None:
    channel = stack.channel(advanced_config={"field_mapping": MAPPING})
    call_id = unique("both")
    before = set(spooled_keys(stack))
    with dynamodb_put_fails(stack.env["DIALOGS_TABLE"], times=100), \
            s3_put_fails(stack.env["RECORDINGS_BUCKET"], times=100) as s3_fault:
        answer = stack.post(channel, json_body={"id": call_id})
    assert s3_fault.hits >= 1
    assert answer.status_code == 503
    assert answer.json()["reason"] == "temporarily_unavailable"
    assert stack.dialog(make_dialog_id(channel["channel_id"], call_id)) is None
    assert set(spooled_keys(stack)) == before
    # and the provider's retry, once storage is back, makes the one dialog
    assert stack.post(channel, json_body={"id": call_id}).json()["status"] == "accepted"


def test_a_rejected_call_is_spooled_when_the_events_table_fails(stack: StackClient) -> None:
    # Given an inactive channel (its calls are answered 403 and kept as raw events) and a failing events table
    channel = stack.channel(active=False, advanced_config={"field_mapping": MAPPING})
    with dynamodb_put_fails(stack.env["EVENTS_TABLE"], times=100):
        answer = stack.post(channel, json_body={"id": unique("inactive")})
    # Then the provider still gets its 403, and the payload is not lost: the reconciler stores it
    assert answer.status_code == 403
    assert events_of(stack, channel["channel_id"]) == []
    reconcile(stack)
    kept = events_of(stack, channel["channel_id"])
    assert [(e.kind, e.reason) for e in kept] == [(RawEventKind.REJECTED, "channel_inactive")]


def test_a_held_call_is_spooled_when_the_events_table_fails(stack: StackClient) -> None:
    channel = broken_channel(stack)
    with dynamodb_put_fails(stack.env["EVENTS_TABLE"], times=100):
        answer = stack.post(channel, json_body={"id": unique("held-spool")})
    assert answer.status_code == 202
    assert answer.json()["status"] == "held"
    assert events_of(stack, channel["channel_id"]) == []
    reconcile(stack)  # the channel is still broken: the spooled request becomes a held event
    kept = events_of(stack, channel["channel_id"])
    assert [(e.event_id, e.kind) for e in kept] == [(answer.json()["event_id"], RawEventKind.HELD)]


# ------------------------------------------------------------------------------------------------ sizes


def test_an_oversized_call_id_is_413_never_500(stack: StackClient) -> None:
    channel = stack.channel(advanced_config={"field_mapping": MAPPING})
    answer = stack.post(channel, json_body={"id": "x" * 200_000})
    assert answer.status_code == 413
    assert answer.json()["reason"] == "payload_too_large"
    assert "call_id" in answer.json()["message"]


def test_an_oversized_field_is_left_empty_and_named_and_the_call_kept(stack: StackClient) -> None:
    channel = stack.channel(advanced_config={"field_mapping": MAPPING})
    call_id = unique("big")
    answer = stack.post(channel, json_body={"id": call_id, "recording": "https://m.example.com/" + "a" * 200_000})
    assert answer.status_code == 200, answer.text
    dialog = stack.dialog(answer.json()["dialog_id"])
    assert dialog is not None and dialog.telephony.recording_url is None
    assert [w.field for w in dialog.mapping_warnings] == ["recording_url"]


def test_an_oversized_update_is_kept_without_its_oversized_field(stack: StackClient) -> None:
    channel = stack.channel(advanced_config={"field_mapping": MAPPING, "update_when": "kind == 'recording'"})
    call_id = unique("bigupd")
    answer = stack.post(channel, json_body={"id": call_id, "kind": "recording",
                                            "recording": "https://m.example.com/" + "a" * 150_000})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "accepted"


def test_the_local_front_refuses_bodies_over_api_gateways_limit(stack: StackClient) -> None:
    channel = stack.channel(advanced_config={"field_mapping": MAPPING})
    answer = stack.post(channel, data=b"{" + b" " * (10 * 1024 * 1024 + 1) + b"}",
                        headers={"Content-Type": "application/json"})
    assert answer.status_code == 413


# ------------------------------------------------------------------------------------------------ signed URL


def test_x_forwarded_host_from_the_client_does_not_rebuild_the_signed_url(stack: StackClient) -> None:
    # Given a Twilio channel, and a signature genuinely made for another deployment's host with the same token
    token = "twilio-auth-token-" + uuid.uuid4().hex
    channel = stack.channel(advanced_config={"preset": "twilio"}, signature={"secret": token})
    pairs = [("CallSid", unique("CA")), ("CallStatus", "completed")]
    other_host_url = webhook_url(stack, channel).replace("127.0.0.1", "calls.other-deployment.example")
    signature = twilio_signature(token, other_host_url, pairs)
    body = "&".join(f"{k}={v}" for k, v in pairs).encode()
    # When it is replayed here claiming that host
    host = other_host_url.split("/")[2]
    answer = send(stack, channel, body, {"Content-Type": FORM, "X-Twilio-Signature": signature,
                                         "X-Forwarded-Host": host})
    # Then it is refused
    assert answer.status_code == 401
    # while the same request signed for this host passes
    genuine = twilio_signature(token, webhook_url(stack, channel), pairs)
    assert send(stack, channel, body, {"Content-Type": FORM, "X-Twilio-Signature": genuine}).status_code == 200


def test_fixing_the_item_in_the_console_releases_held_calls_at_once(stack: StackClient) -> None:
    # Given a call held by a broken channel
    channel = broken_channel(stack)
    call_id = unique("stream")
    held = stack.post(channel, json_body={"id": call_id})
    assert held.status_code == 202
    dialog_id = make_dialog_id(channel["channel_id"], call_id)
    # When the admin fixes the item in the console (no reconciler run, no resend)
    console_put(stack, "CHANNELS_TABLE", {**channel, "advanced_config": {"field_mapping": MAPPING}})
    # Then the channels table's stream released it: the dialog and its workflow exist
    wait_for_dialog(stack, dialog_id)
    assert stack.wait_execution(dialog_id)["status"] == "SUCCEEDED"
    assert [(e.kind, e.dialog_id) for e in events_of(stack, channel["channel_id"])] == \
        [(RawEventKind.RELEASED, dialog_id)]


def test_a_released_held_event_and_its_dialog_take_the_channels_retention(stack: StackClient) -> None:
    # Given a held call of a channel whose fixed item keeps its data 7 days
    channel = broken_channel(stack)
    call_id = unique("ret")
    held = stack.post(channel, json_body={"id": call_id})
    assert held.status_code == 202
    # When the item is fixed in the console with retention_days
    console_put(stack, "CHANNELS_TABLE", {**channel, "retention_days": 7,
                                           "advanced_config": {"field_mapping": MAPPING}})
    # Then the dialog and the released event both expire 7 days after the call arrived
    dialog = wait_for_dialog(stack, make_dialog_id(channel["channel_id"], call_id))
    [event] = events_of(stack, channel["channel_id"])
    arrived = datetime.strptime(event.received_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
    assert dialog.expires_at == event.expires_at
    assert event.expires_at is not None and abs(event.expires_at - (arrived + 7 * 86_400)) < 2
