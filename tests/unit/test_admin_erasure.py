"""An erasure's decisions on fakes of its ports (callhook_admin.ports): what a plan finds for a dialog or a number,
and that a run that cannot delete something keeps the dialog for the next run and records no personal data."""

from __future__ import annotations

import base64

import pytest

from callhook.errors import DialogNotFoundError
from callhook.models.call import Telephony
from callhook.models.dialog import (
    Dialog,
    Enrichment,
    EnrichmentStatus,
    PayloadRef,
    Recording,
    RecordingStatus,
    Transcription,
    TranscriptionStatus,
)
from callhook.models.event import RawEvent, RawEventKind, SpooledRequest, StoredRequest
from callhook_admin.services.erasure import ErasurePorts, erase, plan_dialog_erasure, plan_phone_erasure
from tests.support.fakes import FakeDialogs, FakeErasureObjects, FakeErasureRecords, FakeRawEvents

AT = "2026-12-01T10:00:00Z"


def _dialog(n: int, caller: str | None, callee: str = "+12025550100", *, kept: bool = False) -> Dialog:
    extra: dict[str, object] = {"enrichment": Enrichment(status=EnrichmentStatus.DISABLED)}
    if kept:
        extra |= {"recording": Recording(status=RecordingStatus.KEPT, s3_key=f"recordings/ch/d-{n}.wav"),
                 "transcription": Transcription(status=TranscriptionStatus.COMPLETED, job_name=f"stack-d-{n}",
                                                transcript_s3_key=f"transcripts/ch/d-{n}.json")}
    return Dialog(dialog_id=f"d-{n}", channel_id="ch", call_id=f"c-{n}", created_at=AT,
                  telephony=Telephony(call_id=f"c-{n}", caller=caller, callee=callee), **extra)


def _event(event_id: str, body: bytes = b"", *, dialog_id: str | None = None, channel_id: str = "ch") -> RawEvent:
    return RawEvent(event_id=event_id, channel_id=channel_id, received_at=AT, dialog_id=dialog_id,
                    kind=RawEventKind.APPLIED_UPDATE if dialog_id else RawEventKind.REJECTED,
                    request=StoredRequest(method="POST", url="https://x/webhooks/ch", headers={},
                                          body_b64=base64.b64encode(body).decode()))


def world(**objects: set[str]) -> tuple[ErasurePorts, FakeDialogs, FakeRawEvents, FakeErasureObjects,
                                        FakeErasureRecords]:
    dialogs = FakeDialogs(_dialog(1, "+1 (202) 555-0143", kept=True), _dialog(2, "+12025550199"),
                          _dialog(3, "sip:101@pbx", callee="0012025550143"))
    events = FakeRawEvents(_event("e-1", dialog_id="d-1"), _event("e-2", b"From=%2B12025550143"),
                           _event("e-3", b"From=%2B12025550199"), _event("e-4", b"From=%2B12025550143",
                                                                          channel_id="other"))
    stored = {"recordings/ch/d-1.wav", "recordings/ch/d-1.mp3", "transcripts/ch/d-1.json", "recordings/ch/d-10.wav"}
    bucket = FakeErasureObjects(stored, {"stack-d-1"}, **objects)
    records = FakeErasureRecords()
    return ErasurePorts(dialogs=dialogs, events=events, objects=bucket, records=records), dialogs, events, bucket, \
        records


def test_a_dialogs_plan_finds_its_objects_in_any_format_its_raw_events_and_its_job() -> None:
    io, *_ = world()
    plan = plan_dialog_erasure("d-1", io)
    assert [(d.dialog_id, d.raw_event_ids, d.object_keys, d.transcription_job) for d in plan.dialogs] == [
        ("d-1", ["e-1"], ["recordings/ch/d-1.mp3", "recordings/ch/d-1.wav", "transcripts/ch/d-1.json"],
         "stack-d-1")]  # never d-10's recording, whose key starts with d-1's id
    assert (plan.scope, plan.channel_id, plan.raw_event_ids) == ("dialog", "ch", [])


def test_an_unknown_dialog_is_nothing_to_erase() -> None:
    io, *_ = world()
    with pytest.raises(DialogNotFoundError, match="erased already, or never stored"):
        plan_dialog_erasure("d-9", io)


def test_a_numbers_plan_finds_caller_and_callee_however_written_and_the_channels_webhooks_that_carry_it() -> None:
    io, *_ = world()
    plan = plan_phone_erasure("ch", "+1 202 555 0143", io)
    assert [d.dialog_id for d in plan.dialogs] == ["d-1", "d-3"]
    assert plan.raw_event_ids == ["e-2"]  # not e-3 (another number) nor e-4 (another channel); e-1 is d-1's
    assert plan.all_raw_event_ids == ["e-1", "e-2"]


def test_an_erasure_deletes_everything_found_and_records_ids_and_counts_only() -> None:
    io, dialogs, events, bucket, records = world()
    record = erase(plan_phone_erasure("ch", "+12025550143", io), io)
    assert sorted(dialogs.items) == ["d-2"] and sorted(events.items) == ["e-3", "e-4"]
    assert bucket.objects == {"recordings/ch/d-10.wav"} and bucket.jobs == set()
    assert records.records == [record]
    assert (record.dialog_ids, record.raw_event_ids, record.objects_deleted, record.transcription_jobs_deleted,
            record.not_deleted, record.erased_by) == (["d-1", "d-3"], ["e-1", "e-2"], 3, 1, [],
                                                      "arn:aws:iam::123456789012:user/admin")
    assert "2025550143" not in record.model_dump_json()


def test_what_cannot_be_deleted_keeps_the_dialog_so_the_same_erasure_finds_it_again() -> None:
    io, dialogs, _, bucket, _ = world(undeletable={"recordings/ch/d-1.mp3"}, refused={"stack-d-1"})
    record = erase(plan_dialog_erasure("d-1", io), io)
    assert record.dialog_ids == [] and "d-1" in dialogs.items
    assert record.not_deleted == ["transcription job of d-1: AccessDeniedException",
                                  "recordings/ch/d-1.mp3: AccessDenied"]
    assert record.objects_deleted == 2 and bucket.objects == {"recordings/ch/d-1.mp3", "recordings/ch/d-10.wav"}
    bucket.undeletable, bucket.refused = set(), set()
    again = erase(plan_dialog_erasure("d-1", io), io)
    assert (again.dialog_ids, again.not_deleted, again.transcription_jobs_deleted) == (["d-1"], [], 1)


def _spooled(event_id: str, body: bytes, channel_id: str = "ch") -> bytes:
    return SpooledRequest(event_id=event_id, channel_id=channel_id, received_at=AT, reason="dialog_store_unavailable",
                          request=StoredRequest(method="POST", url="https://x/webhooks/ch",
                                                headers={"content-type": "application/json"},
                                                body_b64=base64.b64encode(body).decode())).model_dump_json().encode()


def test_a_number_kept_as_sent_in_national_form_is_found_everywhere_it_waits() -> None:
    # Given a channel without default_region: the numbers were kept as sent
    dialogs = FakeDialogs(_dialog(1, "(202) 555-0143"), _dialog(2, "(202) 555-0144"),
                          _dialog(3, "+12025550199").model_copy(update={"raw_ref": PayloadRef(
                              s3_key="payloads/ch/d-3.raw-abc.json", size=9)}))
    dialogs.items["d-3"]["telephony"]["callee"] = "202 555 0143"
    held = _event("e-held", b'{"caller": "202.555.0143"}').model_copy(update={"kind": RawEventKind.HELD})
    aside = _event("e-aside", b'{"caller": "+1 202-555-0143"}').model_copy(update={"kind": RawEventKind.SET_ASIDE})
    events = FakeRawEvents(held, aside, _event("e-other", b'{"caller": "(202) 555-0144"}'))
    contents = {
        "spool/2026-12-01T10:00:00Z-s-1.json": _spooled("s-1", b'{"caller": "(202) 555-0143"}'),
        "spool/2026-12-01T10:00:01Z-s-2.json": _spooled("s-2", b'{"caller": "(202) 555-0144"}'),
        "spool/2026-12-01T10:00:02Z-s-3.json": _spooled("s-3", b'{"caller": "(202) 555-0143"}', channel_id="other"),
        "set-aside/2026-12-01T10:00:03Z-s-4.json": b'{"trunc... "caller": "2025550143"',
    }
    bucket = FakeErasureObjects({"payloads/ch/d-3.raw-abc.json", "payloads/ch/d-30.raw-abc.json"}, set(),
                                contents=contents)
    io = ErasurePorts(dialogs=dialogs, events=events, objects=bucket, records=FakeErasureRecords())
    # When
    plan = plan_phone_erasure("ch", "+12025550143", io)
    record = erase(plan, io)
    # Then the dialogs, the waiting requests and the large body that carry it are gone; the others stay
    assert [d.dialog_id for d in plan.dialogs] == ["d-1", "d-3"]
    assert plan.dialogs[1].object_keys == ["payloads/ch/d-3.raw-abc.json"]
    assert plan.raw_event_ids == ["e-aside", "e-held"]
    assert plan.spool_keys == ["spool/2026-12-01T10:00:00Z-s-1.json", "set-aside/2026-12-01T10:00:03Z-s-4.json"]
    assert sorted(dialogs.items) == ["d-2"] and sorted(events.items) == ["e-other"]
    assert bucket.objects == {"payloads/ch/d-30.raw-abc.json", "spool/2026-12-01T10:00:01Z-s-2.json",
                              "spool/2026-12-01T10:00:02Z-s-3.json"}
    # And the record says what was searched, without the number
    assert record.spooled_requests_deleted == 2 and record.searched is not None
    assert (record.searched.country_code, record.searched.region) == (1, "US")
    assert (record.searched.dialogs, record.searched.raw_events, record.searched.spool_objects) == (3, 3, 4)
    assert "2025550143" not in record.model_dump_json() and "555" not in record.model_dump_json()
