"""Ingest's decisions ("answered 2xx ⇔ durably kept", docs/webhook-api.md) on in-memory ports, in milliseconds: which
store keeps an authenticated request when another fails, what is answered, when the workflow starts and when a recording
is asked for. The same paths over HTTP on the local stack: tests/integration/test_storage_first.py and
test_webhook_api.py; the fakes are held to the adapters by tests/unit/test_ports_contract.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from callhook.errors import (
    ChannelInactiveError,
    ChannelMisconfiguredError,
    ChannelNotFoundError,
    DependencyUnavailableError,
    MissingCallIdError,
    UnauthorizedError,
)
from callhook.models.api import HandshakeAnswer, WebhookAnswer, WebhookRequest
from callhook.models.channel import Channel, parse_channel
from callhook.models.dialog import make_dialog_id
from callhook.models.event import RawEventKind
from callhook.services.ingest import IngestPorts, KeptRequestsIngest, ingest_webhook
from callhook.settings import IngestSettings
from tests.support.fakes import (
    FakeChannels,
    FakeDialogs,
    FakeExecutions,
    FakePayloads,
    FakeRawEvents,
    FakeRecordingRequests,
    FakeSecrets,
    FakeSpool,
)

TOKEN = "main-channel-token-0001"
SETTINGS = IngestSettings.model_validate({
    "CHANNELS_TABLE": "channels", "DIALOGS_TABLE": "dialogs", "EVENTS_TABLE": "events",
    "OPERATORS_TABLE": "operators", "TOPICS_TABLE": "topics", "ACTIONS_TABLE": "actions",
    "SETTINGS_TABLE": "settings", "RECORDINGS_BUCKET": "recordings", "DEFAULT_RETENTION_DAYS": 30,
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:unit",
})
MAIN: dict[str, Any] = {"channel_id": "main", "webhook_token": TOKEN,
                        "advanced_config": {"accept_when": "status != 'test'", "update_when": "event == 'update'"}}


class World:
    """Ingest's ports as fakes, with the console's channel items."""

    def __init__(self, *channels: dict[str, Any]) -> None:
        self.channels = FakeChannels(*(channels or (MAIN,)))
        self.dialogs, self.events, self.spool = FakeDialogs(), FakeRawEvents(), FakeSpool()
        self.executions, self.recordings = FakeExecutions(), FakeRecordingRequests()
        self.payloads = FakePayloads()

    @property
    def io(self) -> IngestPorts:
        return IngestPorts(channels=self.channels, dialogs=self.dialogs, events=self.events, spool=self.spool,
                           executions=self.executions, recordings=self.recordings, secrets=FakeSecrets(),
                           payloads=self.payloads)

    def post(self, body: dict[str, Any], *, channel_id: str = "main", token: str | None = TOKEN,
             ) -> WebhookAnswer | HandshakeAnswer:
        headers = {"content-type": "application/json", **({"x-webhook-token": token} if token else {})}
        request = WebhookRequest(channel_id=channel_id, method="POST", url=f"https://hooks.example/webhooks/{channel_id}",
                                 headers=headers, raw_query="", query={}, body=json.dumps(body).encode())
        return ingest_webhook(request, self.io, SETTINGS)

    def event_kinds(self) -> list[str]:
        return sorted(item["kind"] for item in self.events.items.values())


def test_a_new_call_is_stored_then_its_workflow_started() -> None:
    world = World()
    answer = world.post({"call_id": "c1", "caller": "+14155550100"})
    dialog_id = make_dialog_id("main", "c1")
    assert isinstance(answer, WebhookAnswer)
    assert (answer.status, answer.dialog_id, answer.reason, answer.status_code) == ("accepted", dialog_id, None, 200)
    stored = world.dialogs.dialog(dialog_id)
    assert stored.telephony.caller == "+14155550100"
    assert stored.expires_at is not None  # the stack's 30 days: the channel sets none
    assert [name for name, _ in world.executions.started] == [dialog_id]
    assert world.recordings.requested == []  # no recording URL


def test_a_recording_url_is_asked_for_once_the_dialog_is_stored_already_marked() -> None:
    world = World()
    answer = world.post({"call_id": "c1", "recording_url": "https://pbx.example.com/r.wav"})
    assert world.recordings.marked == [answer.dialog_id]  # put_new put it in the recording index itself
    assert world.dialogs.items[answer.dialog_id]["recording"]["status"] == "pending"


def test_the_same_call_again_is_a_duplicate_that_starts_nothing_once_its_workflow_began() -> None:
    world = World()
    first = world.post({"call_id": "c1"})
    world.dialogs.items[first.dialog_id]["workflow"]["status"] = "running"
    again = world.post({"call_id": "c1", "caller": "+14155550100"})
    assert (again.status, again.dialog_id) == ("duplicate", first.dialog_id)
    assert len(world.executions.started) == 1
    assert world.dialogs.dialog(first.dialog_id).telephony.caller is None  # the stored dialog is kept as it was


def test_a_duplicate_whose_workflow_never_began_starts_it_again() -> None:
    # The recovery of a StartExecution that failed the first time (the start itself is idempotent)
    world = World()
    world.executions.down = "ThrottlingException"
    first = world.post({"call_id": "c1"})
    world.executions.down = None
    again = world.post({"call_id": "c1"})
    assert (first.reason, again.status) == ("workflow_start_deferred", "duplicate")
    assert [name for name, _ in world.executions.started] == [first.dialog_id]


def test_a_workflow_that_cannot_start_still_answers_accepted_with_the_dialog_stored() -> None:
    world = World()
    world.executions.down = "ExecutionLimitExceeded"
    answer = world.post({"call_id": "c1"})
    assert (answer.status, answer.reason, answer.status_code) == ("accepted", "workflow_start_deferred", 200)
    assert world.dialogs.items[answer.dialog_id]["workflow_pending"]  # the reconciler starts it
    assert world.spool.objects == {}


def test_a_dialog_store_failure_keeps_the_request_in_the_spool_with_its_dialog_id() -> None:
    world = World()
    world.dialogs.down = "DynamoDB ValidationException"
    answer = world.post({"call_id": "c1"})
    assert (answer.status, answer.reason, answer.status_code) == ("accepted", "spooled", 202)
    assert answer.dialog_id == make_dialog_id("main", "c1")
    [record] = world.spool.objects.values()
    assert (record.event_id, record.reason, record.channel_id) == (answer.event_id, "dialog_store_unavailable", "main")
    assert "ValidationException" in (record.message or "")
    assert "x-webhook-token" not in record.request.headers  # kept without its credentials
    assert world.executions.started == []


def test_nothing_kept_is_503_so_that_the_provider_retries() -> None:
    world = World()
    world.dialogs.down = world.spool.down = "unreachable"
    with pytest.raises(DependencyUnavailableError, match="spool the request"):
        world.post({"call_id": "c1"})


def test_accept_when_false_is_ignored_and_stores_nothing() -> None:
    world = World()
    answer = world.post({"call_id": "c1", "status": "test"})
    assert (answer.status, answer.dialog_id) == ("ignored", None)
    assert answer.reason == "accept_when is false: status != 'test'"
    assert world.dialogs.items == {} and world.events.items == {} and world.executions.started == []


def test_an_update_fills_the_stored_call_and_asks_for_a_new_recording() -> None:
    world = World()
    first = world.post({"call_id": "c1", "caller": "+14155550100"})
    answer = world.post({"call_id": "c1", "event": "update", "caller": "+14155550199", "duration": 42,
                         "recording_url": "https://pbx.example.com/r.wav"})
    assert (answer.status, answer.dialog_id, answer.reason) == ("accepted", first.dialog_id, "update applied")
    telephony = world.dialogs.dialog(first.dialog_id).telephony
    assert (telephony.caller, telephony.duration) == ("+14155550100", 42)  # filled, never overwritten
    assert world.recordings.requested == [first.dialog_id] and world.recordings.marked == []
    assert len(world.executions.started) == 1


def test_an_update_before_its_call_is_kept_until_the_call_arrives() -> None:
    world = World()
    answer = world.post({"call_id": "c1", "event": "update", "duration": 42})
    assert (answer.status, answer.reason) == ("accepted", "update kept until the call arrives")
    [event] = world.events.items.values()
    assert (event["kind"], event["dialog_id"], event["update_fields"]["duration"]) == (
        RawEventKind.PENDING_UPDATE.value, make_dialog_id("main", "c1"), 42)
    assert world.dialogs.items == {} and world.executions.started == []


def test_an_update_the_tables_cannot_take_is_spooled() -> None:
    world = World()
    world.dialogs.down = "ThrottlingException"
    answer = world.post({"call_id": "c1", "event": "update", "duration": 42})
    assert (answer.reason, answer.status_code) == ("spooled", 202)
    assert [r.reason for r in world.spool.objects.values()] == ["dialog_store_unavailable"]


@pytest.mark.parametrize(("channel", "body", "error"), [
    ({**MAIN, "active": False}, {"call_id": "c1"}, ChannelInactiveError),
    (MAIN, {"other": 1}, MissingCallIdError),
])
def test_an_authenticated_rejection_is_kept_as_a_raw_event(channel: dict[str, Any], body: dict[str, Any],
                                                           error: type[Exception]) -> None:
    world = World(channel)
    with pytest.raises(error):
        world.post(body)
    [event] = world.events.items.values()
    assert event["kind"] == RawEventKind.REJECTED.value and event["status_code"] in (403, 422)
    assert world.dialogs.items == {}


def test_a_rejection_the_event_table_cannot_take_is_spooled_and_still_answered_as_the_rejection() -> None:
    world = World()
    world.events.down = "ResourceNotFoundException"
    with pytest.raises(MissingCallIdError):
        world.post({"other": 1})
    assert [r.reason for r in world.spool.objects.values()] == ["event_store_unavailable"]


def test_a_rejection_that_no_store_takes_is_503_instead() -> None:
    world = World()
    world.events.down = world.spool.down = "unreachable"
    with pytest.raises(DependencyUnavailableError):
        world.post({"other": 1})


def test_unauthenticated_requests_store_nothing() -> None:
    world = World()
    with pytest.raises(UnauthorizedError):
        world.post({"call_id": "c1"}, token="wrong-token-wrong-token")
    with pytest.raises(UnauthorizedError):
        world.post({"call_id": "c1"}, token=None)
    assert world.dialogs.items == {} and world.events.items == {} and world.spool.objects == {}


def test_an_invalid_item_that_still_authenticates_holds_its_calls() -> None:
    broken = {**MAIN, "advanced_config": {"field_mapping": "not a mapping"}}
    world = World(broken)
    answer = world.post({"call_id": "c1"})
    assert (answer.status, answer.reason, answer.status_code) == ("held", "channel_misconfigured", 202)
    event = world.events.items[answer.event_id or ""]
    assert event["kind"] == RawEventKind.HELD.value and event["held_channel"] == "main"
    assert "field_mapping" in event["message"] and "field_mapping" not in answer.body_json()
    assert world.dialogs.items == {}


def test_a_held_call_the_event_table_cannot_take_is_spooled() -> None:
    world = World({**MAIN, "advanced_config": {"field_mapping": "not a mapping"}})
    world.events.down = "ThrottlingException"
    answer = world.post({"call_id": "c1"})
    assert answer.status == "held"
    [record] = world.spool.objects.values()
    assert (record.event_id, record.reason) == (answer.event_id, "event_store_unavailable")


def test_an_item_that_cannot_even_authenticate_refuses_and_stores_nothing() -> None:
    world = World({"channel_id": "main", "webhook_token": "short", "advanced_config": {"field_mapping": "x"}})
    with pytest.raises(ChannelMisconfiguredError) as refused:
        world.post({"call_id": "c1"}, token="short")
    assert "field_mapping" not in refused.value.message  # the caller may be anyone
    assert world.events.items == {} and world.spool.objects == {}


def test_an_unknown_channel_is_404() -> None:
    with pytest.raises(ChannelNotFoundError):
        World().post({"call_id": "c1"}, channel_id="gone")


def test_a_provider_url_check_is_answered_before_authentication_and_stores_nothing() -> None:
    world = World({**MAIN, "advanced_config": {"handshake": {"kind": "echo_query", "param": "zd_echo"}}})
    request = WebhookRequest(channel_id="main", method="GET", url="https://hooks.example/webhooks/main?zd_echo=abc",
                             headers={}, raw_query="zd_echo=abc", query={"zd_echo": "abc"}, body=b"")
    answer = ingest_webhook(request, world.io, SETTINGS)
    assert isinstance(answer, HandshakeAnswer) and answer.body == "abc"
    assert world.dialogs.items == {} and world.events.items == {}


def test_a_kept_request_becomes_the_dialog_it_would_have_been_then() -> None:
    # Reconcile and ReleaseHeld run kept requests through ingest again, with the time they arrived
    world = World()
    kept = KeptRequestsIngest(world.io, SETTINGS)
    request = WebhookRequest(channel_id="main", method="POST", url="https://hooks.example/webhooks/main",
                             headers={"content-type": "application/json"}, body=b'{"call_id": "c1"}')
    answer = kept.accept(kept.channel("main"), request, "2026-11-30T10:00:00.000000Z")
    assert world.dialogs.dialog(answer.dialog_id or "").created_at == "2026-11-30T10:00:00.000000Z"
    assert kept.expiry(None, "2026-11-30T10:00:00Z") == kept.expiry(kept.channel("main"), "2026-11-30T10:00:00Z")


def test_a_kept_request_processed_later_is_the_dialog_of_its_arrival() -> None:
    # Given a request that arrived on 2026-12-01 and is processed now (held, spooled or replayed)
    from callhook.services.ingest import accept_authenticated
    from callhook.services.retention import expires_at

    world = World()
    arrived = "2026-12-01T10:00:00.000000Z"
    request = WebhookRequest(channel_id="main", method="POST", url="https://hooks.example/webhooks/main",
                             headers={"content-type": "application/json"}, body=json.dumps({"call_id": "c9"}).encode())
    # When
    answer = accept_authenticated(parse_channel(MAIN), request, world.io, SETTINGS, received_at=arrived)
    # Then its retention counts from its arrival, not from its processing
    dialog = world.dialogs.dialog(answer.dialog_id)
    assert dialog.created_at == arrived and dialog.expires_at == expires_at(arrived, 30)


# ------------------------------------------------------------------- console changes apply at once
class StaleChannels(FakeChannels):
    """A sandbox's cached copy (`stale`) and the stored item; counts the fresh reads a refusal costs."""

    def __init__(self, stale: dict[str, Any], stored: dict[str, Any]) -> None:
        super().__init__(stored)
        self.stale, self.fresh_reads = stale, 0

    def get(self, channel_id: str, *, fresh: bool = False) -> Channel | None:
        if fresh:
            self.fresh_reads += 1
            return super().get(channel_id)
        return parse_channel(dict(self.stale)) if channel_id == self.stale["channel_id"] else None


class CachedSecrets(FakeSecrets):
    def __init__(self, cached: str, stored: str) -> None:
        super().__init__()
        self.cached, self.stored, self.fresh_reads = cached, stored, 0

    def read(self, reference: str, *, fresh: bool = False) -> str:
        self.fresh_reads += fresh
        return self.stored if fresh else self.cached


def _admitted(world: World, body: dict[str, Any], token: str | None = TOKEN, **headers: str) -> Any:
    request = WebhookRequest(channel_id="main", method="POST", url="https://hooks.example/webhooks/main",
                             headers={"content-type": "application/json",
                                      **({"x-webhook-token": token} if token else {}), **headers},
                             body=json.dumps(body).encode())
    return ingest_webhook(request, world.io, SETTINGS)


def test_a_token_rotated_since_the_item_was_cached_is_accepted_after_one_fresh_read() -> None:
    world = World()
    world.channels = StaleChannels(stale=MAIN, stored={**MAIN, "webhook_token": "rotated-token-0002"})
    answer = _admitted(world, {"call_id": "c1"}, token="rotated-token-0002")
    assert answer.status == "accepted" and world.channels.fresh_reads == 1


def test_an_accepted_request_costs_no_fresh_read() -> None:
    world = World()
    world.channels = StaleChannels(stale=MAIN, stored=MAIN)
    assert _admitted(world, {"call_id": "c1"}).status == "accepted"
    assert world.channels.fresh_reads == 0


def test_a_wrong_token_is_refused_after_exactly_one_fresh_read_and_stores_nothing() -> None:
    world = World()
    world.channels = StaleChannels(stale=MAIN, stored=MAIN)
    with pytest.raises(UnauthorizedError):
        _admitted(world, {"call_id": "c1"}, token=TOKEN[:-1] + "2")
    assert world.channels.fresh_reads == 1 and world.events.items == {} and world.dialogs.items == {}


def test_a_channel_reactivated_since_it_was_cached_is_accepted() -> None:
    world = World()
    world.channels = StaleChannels(stale={**MAIN, "active": False}, stored=MAIN)
    assert _admitted(world, {"call_id": "c1"}).status == "accepted"


def test_a_channel_still_inactive_after_the_fresh_read_is_refused_and_its_payload_kept_once() -> None:
    world = World()
    world.channels = StaleChannels(stale={**MAIN, "active": False}, stored={**MAIN, "active": False})
    with pytest.raises(ChannelInactiveError):
        _admitted(world, {"call_id": "c1"})
    assert world.event_kinds() == ["rejected"] and world.channels.fresh_reads == 1


def test_a_signature_secret_rotated_since_it_was_cached_is_read_fresh_before_refusing() -> None:
    import hashlib
    import hmac

    signed = {**MAIN, "signature": {"scheme": "hmac-sha256", "secret": "ssm:/callhook/sig"}}
    world = World()
    world.channels = StaleChannels(stale=signed, stored=signed)
    secrets = CachedSecrets(cached="old-secret", stored="new-secret")
    body = json.dumps({"call_id": "c1"}).encode()
    request = WebhookRequest(channel_id="main", method="POST", url="https://hooks.example/webhooks/main",
                             headers={"content-type": "application/json",
                                      "x-signature": hmac.new(b"new-secret", body, hashlib.sha256).hexdigest()},
                             body=body)
    io = IngestPorts(**{**world.io.__dict__, "secrets": secrets})
    assert ingest_webhook(request, io, SETTINGS).status == "accepted"
    assert secrets.fresh_reads == 1


def cp1252_post(world: World, call_id: str, filler: bytes) -> WebhookAnswer | HandshakeAnswer:
    """A JSON body in cp1252: each 0x80 byte decodes to "€", three bytes of UTF-8."""
    body = b'{"call_id": "' + call_id.encode() + b'", "caller": "+14155550100", "note": "' + filler + b'"}'
    request = WebhookRequest(channel_id="main", method="POST", url="https://hooks.example/webhooks/main",
                             headers={"content-type": "application/json; charset=cp1252", "x-webhook-token": TOKEN},
                             body=body)
    return ingest_webhook(request, world.io, SETTINGS.model_copy(update={"max_body_bytes": 262_144}))


def test_a_body_that_decodes_past_the_item_limit_is_kept_in_the_bucket_and_the_dialog_points_at_it() -> None:
    world = World()
    # When 250 KB of cp1252 decode to ~750 KB of UTF-8
    answer = cp1252_post(world, "big", b"\x80" * 250_000)
    # Then the call is a dialog like any other, answered 200
    assert isinstance(answer, WebhookAnswer) and (answer.status, answer.status_code) == ("accepted", 200)
    stored = world.dialogs.dialog(answer.dialog_id or "")
    assert stored.telephony.raw == {} and stored.telephony.caller == "+14155550100"
    # And the parsed body is the object the dialog names, whole
    assert stored.raw_ref is not None and stored.raw_ref.s3_key.startswith(f"payloads/main/{answer.dialog_id}.raw-")
    kept = json.loads(world.payloads.objects[stored.raw_ref.s3_key])
    assert kept["note"] == "€" * 250_000 and stored.raw_ref.size == len(world.payloads.objects[stored.raw_ref.s3_key])
    # And the workflow's input stays small: ids, never the body
    (_, execution_input), = world.executions.started
    assert len(json.dumps(execution_input)) < 1_000


def test_a_body_that_fits_stays_in_the_item() -> None:
    world = World()
    answer = cp1252_post(world, "small", b"\x80" * 1_000)
    stored = world.dialogs.dialog(answer.dialog_id or "")  # type: ignore[union-attr]
    assert stored.raw_ref is None and stored.telephony.raw["note"] == "€" * 1_000 and world.payloads.objects == {}


def test_a_redelivery_with_another_large_body_leaves_the_stored_dialogs_object_alone() -> None:
    world = World()
    first = cp1252_post(world, "big", b"\x80" * 200_000)
    second = cp1252_post(world, "big", b"\x82" * 200_000)
    assert isinstance(second, WebhookAnswer) and second.status == "duplicate"
    stored = world.dialogs.dialog(first.dialog_id or "")  # type: ignore[union-attr]
    assert stored.raw_ref is not None and list(world.payloads.objects) == [stored.raw_ref.s3_key]


def test_a_bucket_that_cannot_take_the_large_body_spools_the_request() -> None:
    world = World()
    world.payloads.down = "S3 SlowDown"
    answer = cp1252_post(world, "big", b"\x80" * 200_000)
    assert isinstance(answer, WebhookAnswer) and (answer.reason, answer.status_code) == ("spooled", 202)
    assert world.dialogs.items == {} and len(world.spool.keys()) == 1
