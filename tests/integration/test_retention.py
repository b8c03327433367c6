"""Retention on the local stack: a channel's retention_days makes its dialogs and raw events expire (DynamoDB TTL,
swept locally as AWS does, with a clock the tests move), and with an expired dialog go its recording, transcript
and Transcribe job (the dialogs table's stream, ExpireFunction)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from callhook.models.dialog import Dialog
from callhook.repositories.events import EventRepository
from callhook_local.fake_pbx import FakePBX
from callhook_local.ttl import TtlSweeper
from tests.integration.test_cli_support import Cli
from tests.support.stack import StackClient, unique

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
MAPPING = {"call_id": "id", "operator_email": "email", "recording_url": "recording", "status": "status"}
DAY = 86_400


@pytest.fixture
def ttl(stack: StackClient) -> Iterator[TtlSweeper]:
    assert stack.stack.ttl is not None
    yield stack.stack.ttl
    stack.stack.ttl.reset_clock()


@pytest.fixture
def channel(stack: StackClient, demo: FakePBX):
    def make(**overrides: Any) -> dict[str, Any]:
        return stack.channel(auto_transcription=True, allow_private_network=True,
                             advanced_config={"field_mapping": MAPPING}, **overrides)
    return make


def recorded_call(stack: StackClient, pbx: FakePBX, ch: dict[str, Any]) -> Dialog:
    name = unique("rec") + ".wav"
    pbx.add_recording(name, (AUDIO / "call-16k.wav").read_bytes(), "audio/wav")
    dialog = stack.process(ch, {"id": unique("call"), "email": "ann@example.com",
                                "recording": f"{pbx.url}/recordings/{name}"})
    assert dialog.transcription.status == "completed", dialog.transcription
    return dialog


def objects(stack: StackClient, dialog: Dialog) -> list[str]:
    s3 = stack.stack.client("s3")
    keys: list[str] = []
    for folder in ("recordings", "transcripts"):
        resp = s3.list_objects_v2(Bucket=stack.env["RECORDINGS_BUCKET"],
                                  Prefix=f"{folder}/{dialog.channel_id}/{dialog.dialog_id}")
        keys += [o["Key"] for o in resp.get("Contents", [])]
    return keys


def job_exists(stack: StackClient, name: str) -> bool:
    jobs = stack.stack.client("transcribe").list_transcription_jobs(JobNameContains=name)["TranscriptionJobSummaries"]
    return any(j["TranscriptionJobName"] == name for j in jobs)


def created(dialog: Dialog) -> float:
    return datetime.fromisoformat(dialog.created_at.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def test_dialog_expires_with_its_raw_events_recording_transcript_and_job(stack: StackClient, pbx: FakePBX, channel,
                                                                         ttl: TtlSweeper) -> None:
    # Given a channel that keeps its calls 7 days, a transcribed call and a rejected webhook (no call id)
    ch = channel(retention_days=7)
    dialog = recorded_call(stack, pbx, ch)
    assert stack.post(ch, json_body={"status": "completed"}).status_code == 422
    (rejected,) = EventRepository(stack.env["EVENTS_TABLE"]).list_by_channel(ch["channel_id"])[0]
    # Then each carries its expiry: 7 days after the call
    assert dialog.policy.retention_days == 7
    assert dialog.expires_at is not None and abs(dialog.expires_at - (created(dialog) + 7 * DAY)) < 2
    assert rejected.expires_at is not None and abs(rejected.expires_at - (time.time() + 7 * DAY)) < 60
    assert len(objects(stack, dialog)) == 2 and job_exists(stack, str(dialog.transcription.job_name))
    # When 6 days pass, nothing goes
    ttl.advance(6 * DAY)
    ttl.sweep()
    assert stack.dialog(dialog.dialog_id) is not None
    # When 8 days have passed
    ttl.advance(2 * DAY)
    assert ttl.sweep() >= 2
    # Then the dialog, its raw event, its objects and its job are gone
    assert stack.dialog(dialog.dialog_id) is None
    assert EventRepository(stack.env["EVENTS_TABLE"]).get(rejected.event_id) is None
    assert objects(stack, dialog) == []
    assert not job_exists(stack, str(dialog.transcription.job_name))


def test_retention_zero_keeps_forever(stack: StackClient, pbx: FakePBX, channel, ttl: TtlSweeper) -> None:
    # Given a channel that keeps its calls forever, and one that says nothing (the stack's default: 0 here)
    forever = stack.process(channel(retention_days=0), {"id": unique("call"), "email": "ann@example.com"})
    default = stack.process(channel(), {"id": unique("call"), "email": "ann@example.com"})
    # Then neither has an expiry, and ten years later both are there
    assert (forever.expires_at, default.expires_at) == (None, None)
    assert "expires_at" not in stack.stack.client("dynamodb").get_item(
        TableName=stack.env["DIALOGS_TABLE"], Key={"dialog_id": {"S": forever.dialog_id}})["Item"]
    ttl.advance(3650 * DAY)
    ttl.sweep()
    assert stack.dialog(forever.dialog_id) is not None
    assert stack.dialog(default.dialog_id) is not None


def test_channel_rejects_a_negative_retention(stack: StackClient) -> None:
    from callhook_admin.services.config import put_channel

    with pytest.raises(Exception, match="retention_days"):
        put_channel(stack.env["CHANNELS_TABLE"], {"channel_id": unique("ch"), "webhook_token": "t" * 32,
                                                  "retention_days": -1})


def test_local_tables_report_ttl_as_the_template_enables_it(stack: StackClient) -> None:
    # Given the tables whose TimeToLiveSpecification template.yaml enables
    from callhook_local.template import load_template, resources_of_type

    tables = resources_of_type(load_template(stack.stack.template_path), "AWS::DynamoDB::Table")
    enabled = {logical: res["Properties"]["TimeToLiveSpecification"]["AttributeName"]
               for logical, res in tables.items()
               if res["Properties"].get("TimeToLiveSpecification", {}).get("Enabled")}
    assert {"DialogsTable", "EventsTable"} <= set(enabled)
    dynamodb = stack.stack.client("dynamodb")
    # Then DescribeTimeToLive answers as on AWS: enabled on the template's attribute, and disabled elsewhere
    for logical in tables:
        described = dynamodb.describe_time_to_live(TableName=stack.stack.physical(logical))["TimeToLiveDescription"]
        if logical in enabled:
            assert described == {"TimeToLiveStatus": "ENABLED", "AttributeName": enabled[logical]}, logical
        else:
            assert described["TimeToLiveStatus"] == "DISABLED", logical


def _drain(stack: StackClient, url: str) -> None:
    sqs = stack.stack.client("sqs")
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages"):
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _bodies(stack: StackClient, url: str) -> list[dict[str, Any]]:
    found = stack.stack.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(m["Body"]) for m in found.get("Messages", [])]


def test_an_expired_dialog_whose_cleanup_failed_is_named_in_its_queue_and_cleaned_by_a_redrive(
        stack: StackClient, pbx: FakePBX, channel, ttl: TtlSweeper) -> None:
    cli = Cli(stack.stack)
    url = stack.stack.outputs["ExpiredDialogsFailuresQueue"]
    _drain(stack, url)
    # Given a transcribed call kept 7 days, and 8 days later Expire failing on every attempt the stream makes
    dialog = recorded_call(stack, pbx, channel(retention_days=7))
    job = str(dialog.transcription.job_name)
    ttl.advance(8 * DAY)
    with stack.stream_batch_fails("ExpireFunction", message="S3 unavailable (fault switch)"):
        assert ttl.sweep() >= 1
    # Then the dialog is gone and what lives outside the table is still there: only the queue knows
    assert stack.dialog(dialog.dialog_id) is None
    assert len(objects(stack, dialog)) == 2 and job_exists(stack, job)
    (record,) = _bodies(stack, url)
    info = record["DDBStreamBatchInfo"]  # Lambda's failure record: where the batch is, not its records
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == stack.stream_attempts("ExpireFunction")
    assert info["streamArn"].split("/stream/")[0].endswith(f"table/{stack.env['DIALOGS_TABLE']}")
    assert info["batchSize"] == 1 and "Records" not in record
    # And `dlq list` names the batch
    (listing,) = cli.json("dlq", "list", "--queue", "expire")
    (letter,) = listing["messages"]
    assert listing["queue"]["function"] == stack.stack.physical("ExpireFunction")
    assert letter["source"] == "stream" and info["startSequenceNumber"] in letter["subject"]
    # When the admin redrives it (the fault is over)
    (report,) = cli.json("dlq", "redrive", "--queue", "expire")
    # Then the records were read from the stream again and Expire deleted the objects and the job
    assert report["failed"] == [] and len(report["redriven"]) == 1
    assert objects(stack, dialog) == []
    assert not job_exists(stack, job)
    assert _bodies(stack, url) == []


def test_a_redrive_delivers_only_the_records_the_mapping_lets_through(stack: StackClient, pbx: FakePBX, channel,
                                                                     ttl: TtlSweeper) -> None:
    cli = Cli(stack.stack)
    url = stack.stack.outputs["ExpiredDialogsFailuresQueue"]
    _drain(stack, url)
    # Given an expired dialog whose cleanup failed, and then a dialog an admin deleted by hand (not TTL's removal:
    # Expire must not touch its recording)
    expired = recorded_call(stack, pbx, channel(retention_days=7))
    ttl.advance(8 * DAY)
    with stack.stream_batch_fails("ExpireFunction"):
        ttl.sweep()
    ttl.reset_clock()
    kept = recorded_call(stack, pbx, channel())
    stack.stack.client("dynamodb").delete_item(TableName=stack.env["DIALOGS_TABLE"],
                                               Key={"dialog_id": {"S": kept.dialog_id}})
    # When the batch is redriven with the failure record widened over the manual removal (a batch spans records
    # the filter left out too)
    (record,) = _bodies(stack, url)
    _drain(stack, url)
    records = stack.stack.client("dynamodbstreams")
    iterator = records.get_shard_iterator(
        StreamArn=record["DDBStreamBatchInfo"]["streamArn"], ShardId=record["DDBStreamBatchInfo"]["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=record["DDBStreamBatchInfo"]["startSequenceNumber"])["ShardIterator"]
    last = records.get_records(ShardIterator=iterator, Limit=1000)["Records"][-1]["dynamodb"]["SequenceNumber"]
    record["DDBStreamBatchInfo"]["endSequenceNumber"] = last
    stack.stack.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(record))
    time.sleep(0.01)
    (report,) = cli.json("dlq", "redrive", "--queue", "expire")
    # Then the expired dialog was cleaned, and the manually removed one's objects are untouched
    assert report["failed"] == [], report
    assert objects(stack, expired) == []
    assert len(objects(stack, kept)) == 2
