"""`callhook dialog erase` on the local stack: a processed call with its recording and transcript, erased by the
caller's number, leaves nothing of it in any table or the bucket, and an erasure record with no personal data."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from callhook.models.dialog import Dialog
from callhook_local.fake_pbx import FakePBX
from callhook_local.template import load_template, resources_of_type
from tests.integration.test_cli_support import Cli
from tests.support.stack import StackClient, unique

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
MAPPING = {"call_id": "id", "operator_email": "email", "recording_url": "recording", "status": "status",
           "caller": "from", "callee": "to"}
OTHER = "+12025550177"


@pytest.fixture
def cli(stack: StackClient) -> Cli:
    return Cli(stack.stack)


@pytest.fixture
def phone() -> str:
    """A London number of Ofcom's drama range, different in every test."""
    return f"+4420794{random.randint(10_000, 99_999)}"


@pytest.fixture
def channel(stack: StackClient, demo: FakePBX):
    def make() -> dict[str, Any]:
        return stack.channel(auto_transcription=True, allow_private_network=True,
                             advanced_config={"field_mapping": MAPPING, "update_when": "event == 'update'"})
    return make


def recorded_call(stack: StackClient, pbx: FakePBX, channel: dict[str, Any], **fields: Any) -> Dialog:
    """A call with a recording, processed to its transcript (operator ann@example.com of the demo directory)."""
    name = unique("rec") + ".wav"
    pbx.add_recording(name, (AUDIO / "call-16k.wav").read_bytes(), "audio/wav")
    dialog = stack.process(channel, {"id": unique("call"), "email": "ann@example.com",
                                     "recording": f"{pbx.url}/recordings/{name}", **fields})
    assert dialog.transcription.status == "completed", dialog.transcription
    return dialog


def scan_all(stack: StackClient) -> dict[str, list[dict[str, Any]]]:
    """Every item of every table of the template, as JSON text per table."""
    ddb = stack.stack.client("dynamodb")
    found: dict[str, list[dict[str, Any]]] = {}
    for logical in resources_of_type(load_template(), "AWS::DynamoDB::Table"):
        items: list[dict[str, Any]] = []
        for page in ddb.get_paginator("scan").paginate(TableName=stack.stack.physical(logical)):
            items += page["Items"]
        found[logical] = items
    return found


def bucket_keys(stack: StackClient) -> list[str]:
    s3 = stack.stack.client("s3")
    return [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.env["RECORDINGS_BUCKET"])
            for o in page.get("Contents", [])]


def job_exists(stack: StackClient, name: str) -> bool:
    jobs = stack.stack.client("transcribe").list_transcription_jobs(JobNameContains=name)["TranscriptionJobSummaries"]
    return any(j["TranscriptionJobName"] == name for j in jobs)


def test_erase_by_phone_leaves_nothing_of_the_callers_dialogs(cli: Cli, stack: StackClient, pbx: FakePBX,
                                                              channel, phone: str) -> None:
    # Given, on one channel: an update that arrives before its call, then that call from the number, with a
    # recording and a transcript; a call to the number; a call between two other numbers; a rejected webhook (no
    # call id) that carries the number
    ch = channel()
    call_id = unique("call")
    early = stack.post(ch, json_body={"id": call_id, "event": "update", "status": "ringing", "from": phone})
    assert early.json()["reason"] == "update kept until the call arrives"
    name = unique("rec") + ".wav"
    pbx.add_recording(name, (AUDIO / "call-16k.wav").read_bytes(), "audio/wav")
    from_number = stack.process(ch, {"id": call_id, "email": "ann@example.com", "from": phone, "to": OTHER,
                                     "recording": f"{pbx.url}/recordings/{name}"})
    assert from_number.transcription.status == "completed"
    assert from_number.telephony.caller == phone
    to_number = stack.process(ch, {"id": unique("call"), "from": OTHER, "to": phone})
    others = stack.process(ch, {"id": unique("call"), "from": OTHER, "to": "+12025550100"})
    rejected = stack.post(ch, json_body={"from": phone, "status": "completed"})
    assert rejected.status_code == 422
    # and on another channel, a call from the same number (not asked for)
    elsewhere = stack.process(channel(), {"id": unique("call"), "from": phone, "to": OTHER})
    erased_ids = {from_number.dialog_id, to_number.dialog_id}
    job = from_number.transcription.job_name
    assert job and job_exists(stack, job)
    keys = [from_number.recording.s3_key, from_number.transcription.transcript_s3_key]
    assert set(keys) <= set(bucket_keys(stack))

    # When
    record = cli.json("dialog", "erase", "--channel", ch["channel_id"], "--phone", phone)

    # Then the record says what went
    assert set(record["dialog_ids"]) == erased_ids
    assert len(record["raw_event_ids"]) == 2  # the early update and the rejected webhook
    assert (record["objects_deleted"], record["transcription_jobs_deleted"], record["not_deleted"]) == (2, 1, [])
    assert record["erased_by"].startswith("arn:aws:")
    # And no table holds anything of those dialogs, nor the number on that channel, except the erasure record
    digits = phone[1:]
    for table, items in scan_all(stack).items():
        for item in items:
            text = json.dumps(item)
            if table == "ErasuresTable" and record["erasure_id"] in text:
                continue
            assert not any(d in text for d in erased_ids), (table, text[:300])
            if ch["channel_id"] in text:
                assert digits not in text, (table, text[:300])
    # And the bucket holds neither the recording nor the transcript; Transcribe has no job for it
    assert not [k for k in bucket_keys(stack) if any(d in k for d in erased_ids)]
    assert not job_exists(stack, job)
    # And what was not asked for is still there
    assert stack.dialog(others.dialog_id) is not None
    assert stack.dialog(elsewhere.dialog_id) is not None


def test_erasure_record_holds_no_personal_data(cli: Cli, stack: StackClient, pbx: FakePBX, channel,
                                              phone: str) -> None:
    # Given a transcribed call from the number
    ch = channel()
    dialog = recorded_call(stack, pbx, ch, **{"from": phone, "to": OTHER})
    # When
    record = cli.json("dialog", "erase", "--channel", ch["channel_id"], "--phone", phone)
    # Then the stored record is the printed one, and has ids and counts only
    stored = stack.stack.client("dynamodb").get_item(
        TableName=stack.stack.physical("ErasuresTable"), Key={"erasure_id": {"S": record["erasure_id"]}})["Item"]
    text = json.dumps(list(stored.values()))
    assert record["dialog_ids"] == [dialog.dialog_id]
    assert stored["scope"] == {"S": "phone"}
    for personal in (phone[1:], OTHER[1:], "@", "ann", "Ann", dialog.call_id, "hello", "Hello", "internet"):
        assert personal not in text, personal
    assert set(stored) == {"erasure_id", "erased_at", "erased_by", "scope", "channel_id", "dialog_ids",
                           "raw_event_ids", "objects_deleted", "transcription_jobs_deleted", "spooled_requests_deleted",
                           "searched", "not_deleted"}
    assert set(stored["searched"]["M"]) == {"rule", "country_code", "region", "dialogs", "raw_events",
                                            "spool_objects"}


def test_erase_one_dialog_by_id(cli: Cli, stack: StackClient, pbx: FakePBX, channel, phone: str) -> None:
    # Given two transcribed calls from the same number
    ch = channel()
    first = recorded_call(stack, pbx, ch, **{"from": phone})
    second = recorded_call(stack, pbx, ch, **{"from": phone})
    # When the first is erased by its id
    record = cli.json("dialog", "erase", first.dialog_id)
    # Then it is gone with its objects and job; the second is untouched
    assert (record["scope"], record["dialog_ids"], record["objects_deleted"]) == ("dialog", [first.dialog_id], 2)
    assert stack.dialog(first.dialog_id) is None
    assert not job_exists(stack, str(first.transcription.job_name))
    assert stack.dialog(second.dialog_id) is not None
    assert second.recording.s3_key in bucket_keys(stack)
    # And erasing it again says there is nothing, in one line
    assert "no dialog" in cli.run("dialog", "erase", first.dialog_id).error


def test_dry_run_erases_nothing(cli: Cli, stack: StackClient, pbx: FakePBX, channel, phone: str) -> None:
    ch = channel()
    dialog = recorded_call(stack, pbx, ch, to=phone)
    plan = cli.json("dialog", "erase", "--channel", ch["channel_id"], "--phone", phone, "--dry-run")
    assert plan["dry_run"] is True
    assert [d["dialog_id"] for d in plan["dialogs"]] == [dialog.dialog_id]
    assert sorted(plan["dialogs"][0]["object_keys"]) == sorted(
        [dialog.recording.s3_key, dialog.transcription.transcript_s3_key])
    assert stack.dialog(dialog.dialog_id) is not None
    assert job_exists(stack, str(dialog.transcription.job_name))


@pytest.mark.parametrize(("args", "says"), [
    (["--channel", "ch-x", "--phone", "2025550143"], "not an E.164 number"),
    (["--channel", "ch-x", "--phone", "+1 202 555"], "not an E.164 number"),
    (["--channel", "ch-x"], "give a DIALOG_ID, or --channel C --phone +E164"),
    ([], "give a DIALOG_ID, or --channel C --phone +E164"),
    (["d-x", "--channel", "ch-x", "--phone", "+12025550143"], "give a DIALOG_ID, or --channel C --phone +E164"),
])
def test_erase_refuses_unclear_requests(cli: Cli, stack: StackClient, args: list[str], says: str) -> None:
    outcome = cli.run("dialog", "erase", *args)
    assert outcome.exit_code == 2
    assert says in outcome.error


def test_erase_of_an_unknown_number_is_recorded_with_nothing_erased(cli: Cli, stack: StackClient, channel,
                                                                   phone: str) -> None:
    ch = channel()
    record = cli.json("dialog", "erase", "--channel", ch["channel_id"], "--phone", phone)
    assert (record["dialog_ids"], record["raw_event_ids"], record["objects_deleted"]) == ([], [], 0)


def test_erase_by_phone_finds_the_number_however_it_was_written_and_wherever_it_waits(
        cli: Cli, stack: StackClient) -> None:
    from callhook_local.faults import dynamodb_put_fails
    from tests.integration.test_storage_first import console_put, spooled_keys

    # Given a channel without default_region: numbers are kept as the provider wrote them
    mapping = {"call_id": "id", "caller": "from", "callee": "to"}
    ch = stack.channel(advanced_config={"field_mapping": mapping})
    national = stack.process(ch, {"id": unique("call"), "from": "(202) 555-0143", "to": "+12025550100"})
    assert national.telephony.caller == "(202) 555-0143"
    other = stack.process(ch, {"id": unique("call"), "from": "(202) 555-0144", "to": "+12025550100"})
    # and a call whose body was too large for the item (kept in the bucket beside its dialog)
    big = stack.post(ch, data=(b'{"id": "' + unique("big").encode() + b'", "from": "202-555-0143", "note": "'
                               + b"\x80" * 200_000 + b'"}'),
                     headers={"Content-Type": "application/json; charset=cp1252"})
    assert big.status_code == 200, big.text
    big_id = big.json()["dialog_id"]
    # and a rejected webhook (no call id) with the number in other spacing
    assert stack.post(ch, json_body={"from": "202.555.0143"}).status_code == 422
    # and a request spooled while the dialog store failed
    with dynamodb_put_fails(stack.env["DIALOGS_TABLE"], times=100):
        spooled = stack.post(ch, json_body={"id": unique("spooled"), "from": "+1 202 555 0143"})
    assert spooled.status_code == 202, spooled.text
    spooled_key = next(k for k in spooled_keys(stack) if spooled.json()["event_id"] in k)
    # and, the item broken in the console since (once ingest no longer reads it from its cache), a held request
    console_put(stack, "CHANNELS_TABLE", {**ch, "advanced_config": {"field_mapping": {**mapping, "callee": "x[["}}})
    deadline = time.monotonic() + 45
    while stack.post(ch, json_body={"id": unique("probe")}).status_code != 202:
        assert time.monotonic() < deadline, "the broken item never applied"
        time.sleep(2)
    held = stack.post(ch, json_body={"id": unique("held"), "from": "(202)555-0143"})
    assert held.status_code == 202 and held.json()["status"] == "held", held.text

    # When
    record = cli.json("dialog", "erase", "--channel", ch["channel_id"], "--phone", "+12025550143")

    # Then the dialogs in national form and in the bucket, the rejected and held requests and the spooled one go
    assert {national.dialog_id, big_id} <= set(record["dialog_ids"])
    assert other.dialog_id not in record["dialog_ids"] and stack.dialog(other.dialog_id) is not None
    assert held.json()["event_id"] in record["raw_event_ids"]
    assert spooled_key not in spooled_keys(stack)
    assert not [k for k in bucket_keys(stack) if big_id in k or national.dialog_id in k]
    for table, items in scan_all(stack).items():
        for item in items:
            text = json.dumps(item)
            if ch["channel_id"] in text and table != "ChannelsTable":
                for written in ("555-0143", "5550143", "555 0143", "555.0143"):
                    assert written not in text, (table, text[:300])
    # And the record says what was searched, and holds no number
    searched = record["searched"]
    assert (searched["country_code"], searched["region"]) == (1, "US")
    # (the spooled request may have become its dialog on the reconciler's schedule meanwhile: erased either way)
    assert searched["dialogs"] >= 3 and searched["raw_events"] >= 2 and "spool_objects" in searched
    for written in ("5550143", "555-0143", "555 0143", "555.0143"):
        assert written not in json.dumps(record)
