"""Dead-letter queues on the local stack: a failed asynchronous invoke lands in its function's queue (the local
invoke point writes Lambda's DLQ message), `callhook dlq list` shows it, `callhook dlq redrive` sends it again."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from callhook.models.dialog import Dialog, make_dialog_id
from callhook_local.fake_pbx import FakePBX
from tests.integration.test_cli_support import Cli
from tests.support.stack import StackClient, unique

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
MAPPING = {"call_id": "id", "recording_url": "recording", "status": "status"}


@pytest.fixture
def cli(stack: StackClient) -> Cli:
    return Cli(stack.stack)


@pytest.fixture
def queues(stack: StackClient) -> dict[str, str]:
    """The two queues, emptied of what earlier tests' failures left there."""
    urls = {"recordings": stack.stack.outputs["RecordingCopyDeadLetterQueue"],
            "transcriptions": stack.stack.outputs["TranscriptionEventsDeadLetterQueue"]}
    sqs = stack.stack.client("sqs")
    for url in urls.values():  # PurgeQueue is allowed once a minute: delete instead
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get(
                "Messages", []):
            for message in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return urls


def call_whose_copy_failed(stack: StackClient, pbx: FakePBX) -> Dialog:
    """A call whose recording copy failed on its attempt and Lambda's two retries, so its request is dead-lettered."""
    name = unique("rec") + ".wav"
    pbx.add_recording(name, (AUDIO / "call-16k.wav").read_bytes(), "audio/wav")
    channel = stack.channel(allow_private_network=True, advanced_config={"field_mapping": MAPPING})
    call_id = unique("call")
    # the invoke is asynchronous: the copy fails (three times) after the webhook's answer; the block waits for that
    with stack.recording_copy_fails(make_dialog_id(channel["channel_id"], call_id), "disk full (fault switch)"):
        dialog = stack.process(channel, {"id": call_id, "recording": f"{pbx.url}/recordings/{name}"})
    assert dialog.recording is not None and dialog.recording.status == "pending"
    return dialog


def wait_for_message(stack: StackClient, url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not messages(stack, url):
        assert time.monotonic() < deadline, f"no message in {url} after {timeout}s"
        time.sleep(0.05)


def messages(stack: StackClient, url: str) -> list[dict[str, Any]]:
    return list(stack.stack.client("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageAttributeNames=["All"]).get("Messages", []))


def test_failed_recording_copy_lands_in_its_queue_as_lambda_writes_it(stack: StackClient, pbx: FakePBX,
                                                                      queues: dict[str, str]) -> None:
    # When KeepRecording's asynchronous invoke fails
    dialog = call_whose_copy_failed(stack, pbx)
    # Then its request is in the recordings queue: the event as the body, the error in the attributes
    (message,) = messages(stack, queues["recordings"])
    assert json.loads(message["Body"]) == {"dialog_id": dialog.dialog_id}
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert set(attributes) == {"RequestID", "ErrorCode", "ErrorMessage"}
    assert attributes["ErrorMessage"] == "ServiceException: disk full (fault switch)"
    assert messages(stack, queues["transcriptions"]) == []


def test_dlq_list_shows_the_dialog_and_why(cli: Cli, stack: StackClient, pbx: FakePBX,
                                           queues: dict[str, str]) -> None:
    dialog = call_whose_copy_failed(stack, pbx)
    # When
    listings = cli.json("dlq", "list")
    # Then
    by_name = {x["queue"]["name"]: x for x in listings}
    assert by_name["transcriptions"]["depth"] == 0
    recordings = by_name["recordings"]
    assert recordings["depth"] == 1
    assert recordings["queue"]["function"] == stack.stack.physical("KeepRecordingFunction")
    (letter,) = recordings["messages"]
    assert (letter["source"], letter["subject"]) == ("lambda", dialog.dialog_id)
    assert letter["error"] == "ServiceException: disk full (fault switch)"
    # And people get a table that names it, and the command to redrive
    shown = cli.run("dlq", "list", "--queue", "recordings")
    assert shown.exit_code == 0
    assert dialog.dialog_id in shown.stdout
    # the hint runs as pasted: the same stack, on its port
    assert (f"CALLHOOK_AWS_PORT={stack.stack.aws_port} callhook --local --stack {stack.stack.name} "
            "dlq redrive --queue recordings") in shown.stderr


def test_dlq_redrive_copies_the_recording_and_empties_the_queue(cli: Cli, stack: StackClient, pbx: FakePBX,
                                                               queues: dict[str, str]) -> None:
    # Given a failed copy in the queue (the fault is over)
    dialog = call_whose_copy_failed(stack, pbx)
    # When
    (report,) = cli.json("dlq", "redrive", "--queue", "recordings")
    # Then the recording is kept now, and nothing is left to redrive
    assert report["redriven"] and report["failed"] == [] and report["left_new"] == 0
    kept = stack.wait_recording(dialog.dialog_id, "kept")  # the redriven invoke runs after the redrive
    assert kept is not None and kept.recording is not None and kept.recording.status == "kept"
    assert messages(stack, queues["recordings"]) == []


def test_redrive_that_fails_again_ends_and_leaves_one_new_message(cli: Cli, stack: StackClient, pbx: FakePBX,
                                                                  queues: dict[str, str]) -> None:
    # Given a failed copy, and KeepRecording still failing
    dialog = call_whose_copy_failed(stack, pbx)
    time.sleep(0.01)
    with stack.recording_copy_fails(dialog.dialog_id, "still broken"):
        (report,) = cli.json("dlq", "redrive", "--queue", "recordings")
        # Then the redrive ends once Lambda accepted the event again (the old message is gone); the redriven event
        # fails again in the background, after Lambda's retries, and lands in the queue for the next redrive (on
        # AWS minutes later; locally whether it lands before the redrive ends depends on timing: left_new is 0 or 1)
        assert len(report["redriven"]) == 1
        wait_for_message(stack, queues["recordings"])
    (message,) = messages(stack, queues["recordings"])
    assert json.loads(message["Body"]) == {"dialog_id": dialog.dialog_id}
    assert message["MessageAttributes"]["ErrorMessage"]["StringValue"] == "ServiceException: still broken"


def test_eventbridge_dead_letter_is_listed_and_an_unreadable_one_is_reported(cli: Cli, stack: StackClient,
                                                                            queues: dict[str, str]) -> None:
    # Given what EventBridge writes when it cannot deliver a job-state event, and a message that is not JSON
    sqs = stack.stack.client("sqs")
    job = f"{stack.stack.name}-d-{unique('x')}"
    event = {"version": "0", "source": "aws.transcribe", "detail-type": "Transcribe Job State Change",
             "detail": {"TranscriptionJobName": job, "TranscriptionJobStatus": "COMPLETED"}}
    sqs.send_message(QueueUrl=queues["transcriptions"], MessageBody=json.dumps(event), MessageAttributes={
        "ERROR_CODE": {"DataType": "String", "StringValue": "SDK_CLIENT_ERROR"},
        "ERROR_MESSAGE": {"DataType": "String", "StringValue": "Unable to invoke Lambda function"},
        "RULE_ARN": {"DataType": "String", "StringValue": "arn:aws:events:us-east-1:123456789012:rule/r"},
        "TARGET_ARN": {"DataType": "String", "StringValue": "arn:aws:lambda:us-east-1:123456789012:function:f"}})
    sqs.send_message(QueueUrl=queues["transcriptions"], MessageBody="not json")
    # When
    (listing,) = cli.json("dlq", "list", "--queue", "transcriptions")
    # Then
    letters = {m["subject"]: m for m in listing["messages"]}
    assert letters[job]["source"] == "eventbridge"
    assert letters[job]["error"] == "SDK_CLIENT_ERROR: Unable to invoke Lambda function"
    assert letters[None]["body"] == "not json"
    # And a redrive sends the event to the completion function, and refuses the unreadable one in one line
    time.sleep(0.01)
    failed = cli.run("dlq", "redrive", "--queue", "transcriptions")
    assert "1 message(s) could not be redriven" in failed.error
    assert [m["Body"] for m in messages(stack, queues["transcriptions"])] == ["not json"]


def test_dlq_rejects_an_unknown_queue_name(cli: Cli, stack: StackClient) -> None:
    outcome = cli.run("dlq", "list", "--queue", "nope")
    assert outcome.exit_code == 2
