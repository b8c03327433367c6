"""Kept requests become dialogs (services/kept.py) on in-memory fakes: held events once their channel item is valid,
spooled requests once the tables take writes. Arrival order, the same dialog ids, nothing lost or duplicated, and
what each pass leaves behind. The real path (ingest, DynamoDB, S3) runs in tests/integration/test_storage_first.py.
"""

from __future__ import annotations

import base64
import json

import pytest

from callhook.errors import DependencyUnavailableError
from callhook.models.channel import Channel
from callhook.models.dialog import make_dialog_id
from callhook.models.event import RawEvent, RawEventKind, SpooledRequest, StoredRequest
from callhook.services.kept import KeptPorts, drain_spool, release_all_held, release_held
from callhook.services.retention import expires_at
from tests.support.fakes import FakeChannelIds, FakeIngest, FakeRawEvents, FakeSpool

CHANNEL = Channel.model_validate({"channel_id": "main", "webhook_token": "main-channel-token-0001",
                                  "retention_days": 30})
BROKEN = ("main", "advanced_config.field_mapping: not an object")


def request(call_id: str | None, **extra: object) -> StoredRequest:
    body = json.dumps({"call_id": call_id, **extra} if call_id else extra).encode()
    return StoredRequest(method="POST", url="https://hooks.example/webhooks/main",
                         headers={"content-type": "application/json"}, body_b64=base64.b64encode(body).decode())


def held(n: int, call_id: str | None) -> RawEvent:
    return RawEvent(event_id=f"e-{n}", channel_id="main", received_at=f"2026-12-01T10:00:0{n}.000000Z",
                    kind=RawEventKind.HELD, held_channel="main", reason="channel_misconfigured",
                    request=request(call_id), expires_at=1)


def spooled(n: int, call_id: str | None, channel_id: str = "main") -> SpooledRequest:
    return SpooledRequest(event_id=f"s-{n}", channel_id=channel_id, received_at=f"2026-12-01T10:00:0{n}.000000Z",
                          reason="dialog_store_unavailable", request=request(call_id))


def world(*channels: Channel | tuple[str, str], events: list[RawEvent] | None = None,
          spool: list[SpooledRequest] | None = None) -> tuple[KeptPorts, FakeRawEvents, FakeSpool, FakeIngest]:
    raw, box, ingest = FakeRawEvents(*(events or [])), FakeSpool(*(spool or [])), FakeIngest(*channels)
    return KeptPorts(events=raw, spool=box, channels=FakeChannelIds("main", "other"), ingest=ingest), raw, box, ingest


def test_held_events_become_dialogs_in_arrival_order_with_the_ids_ingest_gives() -> None:
    # Given three held requests, stored out of order, two of them the same call
    io, raw, _, ingest = world(CHANNEL, events=[held(3, "c-2"), held(1, "c-1"), held(2, "c-1")])
    # When
    report = release_held("main", io)
    # Then oldest first, each with the time it arrived, the repeat a duplicate of the same dialog
    assert report.released == ["e-1", "e-2", "e-3"]
    one, two = make_dialog_id("main", "c-1"), make_dialog_id("main", "c-2")
    assert ingest.accepted == [(one, "accepted", "2026-12-01T10:00:01.000000Z"),
                               (one, "duplicate", "2026-12-01T10:00:02.000000Z"),
                               (two, "accepted", "2026-12-01T10:00:03.000000Z")]
    # And each event says what it became, out of the held index, with the channel's retention now
    released = raw.event("e-2")
    assert released.kind == RawEventKind.RELEASED and released.dialog_id == one and released.held_channel is None
    assert raw.items["e-2"]["release_status"] == "duplicate"
    assert released.expires_at is not None and released.expires_at > 1
    assert raw.held("main") == []


def test_a_channel_still_invalid_keeps_its_events_held() -> None:
    io, raw, _, ingest = world(BROKEN, events=[held(1, "c-1")])
    report = release_held("main", io)
    assert report.released == [] and report.still_held == ["main"]
    assert [e.event_id for e in raw.held("main")] == ["e-1"] and ingest.accepted == []


def test_tables_that_fail_stop_the_pass_so_no_later_event_overtakes_an_earlier_one() -> None:
    io, raw, _, ingest = world(CHANNEL, events=[held(1, "c-1"), held(2, "c-2"), held(3, "c-3")])
    ingest.fail_next = 1
    # When the first pass meets failing tables on its first event
    assert release_held("main", io).released == []
    assert [e.event_id for e in raw.held("main")] == ["e-1", "e-2", "e-3"]
    # Then the next pass releases all three, in order, each once
    assert release_held("main", io).released == ["e-1", "e-2", "e-3"]
    assert [status for _, status, _ in ingest.accepted] == ["accepted"] * 3
    # And a third pass finds nothing
    assert release_held("main", io).released == [] and len(ingest.accepted) == 3


def test_a_held_request_that_cannot_become_a_dialog_is_kept_as_its_rejection() -> None:
    io, raw, _, _ = world(CHANNEL, events=[held(1, None)])
    assert release_held("main", io).released == ["e-1"]
    rejected = raw.event("e-1")
    assert (rejected.kind, rejected.reason, rejected.status_code) == (RawEventKind.REJECTED, "missing_call_id", 422)
    assert rejected.held_channel is None


def test_the_safety_net_releases_only_channels_with_held_events() -> None:
    io, _, _, ingest = world(CHANNEL, events=[held(1, "c-1")])
    report = release_all_held(io)
    assert report.released == ["e-1"] and report.still_held == []  # "other" has nothing held: never read
    assert len(ingest.accepted) == 1


def test_spooled_requests_become_their_dialogs_oldest_first_and_leave_the_spool() -> None:
    io, _, box, ingest = world(CHANNEL, spool=[spooled(2, "c-2"), spooled(1, "c-1"), spooled(3, "c-1")])
    # When
    report = drain_spool(io)
    # Then
    assert report.spool_processed == ["s-1", "s-2", "s-3"] and report.spool_waiting == 0
    assert [(d, s) for d, s, _ in ingest.accepted] == [(make_dialog_id("main", "c-1"), "accepted"),
                                                       (make_dialog_id("main", "c-2"), "accepted"),
                                                       (make_dialog_id("main", "c-1"), "duplicate")]
    assert box.keys() == []


def test_the_spool_waits_while_the_tables_still_fail_and_loses_nothing() -> None:
    io, _, box, ingest = world(CHANNEL, spool=[spooled(1, "c-1"), spooled(2, "c-2"), spooled(3, "c-3")])
    ingest.failing = {"c-2"}
    # When the tables take the first request, then fail on the second
    first = drain_spool(io)
    # Then the first is out of the spool, the rest wait, counted, in their order
    assert first.spool_processed == ["s-1"] and first.spool_waiting == 2
    assert box.keys() == ["spool/2026-12-01T10:00:02.000000Z-s-2.json", "spool/2026-12-01T10:00:03.000000Z-s-3.json"]
    # And once the tables are back, the next pass processes them, each once
    ingest.failing = set()
    second = drain_spool(io)
    assert second.spool_processed == ["s-2", "s-3"] and second.spool_waiting == 0 and box.keys() == []
    assert [d for d, _, _ in ingest.accepted] == [make_dialog_id("main", c) for c in ("c-1", "c-2", "c-3")]


def test_a_spooled_request_of_a_channel_broken_since_is_held_and_of_a_deleted_one_rejected() -> None:
    io, raw, box, ingest = world(BROKEN, spool=[spooled(1, "c-1"), spooled(2, "c-2", channel_id="gone")])
    # When
    report = drain_spool(io)
    # Then neither is lost: one held under its event id, one kept visible as its rejection
    assert report.spool_processed == ["s-1", "s-2"] and box.keys() == [] and ingest.accepted == []
    assert raw.event("s-1").kind == RawEventKind.HELD and raw.event("s-1").held_channel == "main"
    assert (raw.event("s-2").kind, raw.event("s-2").reason) == (RawEventKind.REJECTED, "unknown_channel")


# ------------------------------------------------------------------------ retention counts from arrival
def test_a_held_request_released_later_expires_counted_from_its_arrival() -> None:
    # Given a request held on 2026-12-01 and released now (days later), on a channel keeping 30 days
    io, raw, _, ingest = world(CHANNEL, events=[held(1, "c-1")])
    # When
    release_held("main", io)
    # Then its event and its dialog count the 30 days from 2026-12-01T10:00:01, not from now
    arrived = "2026-12-01T10:00:01.000000Z"
    assert raw.event("e-1").expires_at == expires_at(arrived, 30)
    assert [when for _, _, when in ingest.accepted] == [arrived]


def test_a_spooled_request_becomes_its_dialog_with_its_arrival_time() -> None:
    io, _, _, ingest = world(CHANNEL, spool=[spooled(1, "c-1")])
    drain_spool(io)
    assert [when for _, _, when in ingest.accepted] == ["2026-12-01T10:00:01.000000Z"]


def test_a_spooled_request_the_table_refuses_is_set_aside_and_the_good_ones_after_it_become_dialogs() -> None:
    io, raw, box, ingest = world(CHANNEL, spool=[spooled(1, "poison"), spooled(2, "c-2"), spooled(3, "c-3")])
    ingest.refusing = {"poison"}
    # When
    report = drain_spool(io)
    # Then the poisoned one is set aside with its reason, and the drain went on
    assert report.set_aside == ["s-1"] and report.spool_processed == ["s-2", "s-3"] and report.spool_waiting == 0
    assert [d for d, _, _ in ingest.accepted] == [make_dialog_id("main", "c-2"), make_dialog_id("main", "c-3")]
    aside = raw.event("s-1")
    assert (aside.kind, aside.reason, aside.set_aside_from) == (RawEventKind.SET_ASIDE, "item_refused", "spool")
    assert "ValidationException" in (aside.message or "") and aside.request == spooled(1, "poison").request
    # And nothing is left to block the next pass
    assert box.keys() == [] and drain_spool(io).set_aside == []


def test_an_error_of_ours_on_one_spooled_request_sets_only_that_one_aside() -> None:
    io, raw, _, ingest = world(CHANNEL, spool=[spooled(1, "c-1"), spooled(2, "c-2")])

    def boom(channel: Channel, req: object, received_at: str) -> object:
        raise KeyError("a bug this body triggers")

    good = ingest.accept
    ingest.accept = lambda channel, req, at: (boom if b"c-1" in req.body else good)(channel, req, at)  # type: ignore
    report = drain_spool(io)
    assert report.set_aside == ["s-1"] and report.spool_processed == ["s-2"]
    assert (raw.event("s-1").reason, raw.event("s-1").message) == ("processing_failed",
                                                                   "KeyError: 'a bug this body triggers'")


def test_an_unreadable_spooled_object_is_moved_aside_as_it_is() -> None:
    io, _, box, ingest = world(CHANNEL, spool=[spooled(2, "c-2")])
    box.objects["spool/2026-12-01T10:00:01.000000Z-s-1.json"] = None  # bytes that are no spooled request
    report = drain_spool(io)
    assert report.set_aside == ["set-aside/2026-12-01T10:00:01.000000Z-s-1.json"]
    assert report.spool_processed == ["s-2"] and len(ingest.accepted) == 1 and box.keys() == []
    assert box.aside["set-aside/2026-12-01T10:00:01.000000Z-s-1.json"][1].startswith("processing_failed: ValueError")


def test_a_store_that_fails_while_setting_aside_stops_the_pass_and_keeps_the_request() -> None:
    io, raw, box, ingest = world(CHANNEL, spool=[spooled(1, "poison"), spooled(2, "c-2")])
    ingest.refusing = {"poison"}
    raw.down = "ThrottlingException"
    # When the events table fails as the poisoned request is set aside, the pass stops on the store's failure
    with pytest.raises(DependencyUnavailableError, match="ThrottlingException"):
        drain_spool(io)
    # Then nothing is lost and nothing overtook it
    assert len(box.keys()) == 2 and ingest.accepted == []


def test_a_held_event_the_table_refuses_is_set_aside_and_the_later_ones_are_released() -> None:
    io, raw, _, ingest = world(CHANNEL, events=[held(1, "c-1"), held(2, "poison"), held(3, "c-3")])
    ingest.refusing = {"poison"}
    # When
    report = release_held("main", io)
    # Then
    assert report.released == ["e-1", "e-3"] and report.set_aside == ["e-2"]
    assert [d for d, _, _ in ingest.accepted] == [make_dialog_id("main", "c-1"), make_dialog_id("main", "c-3")]
    aside = raw.event("e-2")
    assert (aside.kind, aside.reason, aside.set_aside_from) == (RawEventKind.SET_ASIDE, "item_refused", "held")
    assert aside.held_channel is None and raw.held("main") == []
