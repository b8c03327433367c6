"""`callhook dlq` on fakes of its ports: a listing reads both shapes AWS writes without taking a message, and a
redrive invokes each message that was there when it began, deleting only what Lambda accepted."""

from __future__ import annotations

import json
from typing import Any

from callhook_admin.errors import InvokeFailedError, StreamRecordsGoneError
from callhook_admin.models.deadletter import DeadLetterQueue, StreamBatch
from callhook_admin.services.deadletters import (
    StreamRedrive,
    list_dead_letters,
    matches_pattern,
    pattern_supported,
    redrive,
)
from tests.support.fakes import FakeDeadLetters, FakeInvoker

QUEUE = DeadLetterQueue(name="recordings", url="https://sqs/recordings-dlq", function="keep-recording",
                        holds="failed recording copies")
BEGAN = 1_700_000_100_000


def test_a_listing_reads_lambdas_and_eventbridges_shapes_and_takes_nothing() -> None:
    queue = FakeDeadLetters()
    queue.send(json.dumps({"dialog_id": "d-1"}), ErrorMessage="Task timed out", RequestID="r-1")
    queue.send(json.dumps({"detail": {"TranscriptionJobName": "stack-d-2"}}), ERROR_CODE="SDK_CLIENT_ERROR",
               ERROR_MESSAGE="throttled", RULE_ARN="arn:rule")
    listing = list_dead_letters(QUEUE, queue, limit=10)
    assert (listing.depth, listing.in_flight) == (2, 0)
    assert [(m.source, m.subject, m.error) for m in listing.messages] == [
        ("lambda", "d-1", "Task timed out"), ("eventbridge", "stack-d-2", "SDK_CLIENT_ERROR: throttled")]
    assert queue.counts() == (2, 0)  # looked at, not taken


def test_a_redrive_deletes_what_lambda_accepted_and_leaves_the_rest_visible() -> None:
    # Given one good message, one that is not JSON, one Lambda refuses, and one that arrived after the redrive began
    queue, invoke = FakeDeadLetters(), FakeInvoker("keep-recording")
    good = queue.send(json.dumps({"dialog_id": "d-1"}))
    broken = queue.send("not json")
    queue.send(json.dumps({"dialog_id": "d-3"}), sent_ms=BEGAN + 1)
    # When
    report = redrive(QUEUE, queue, invoke, now_ms=lambda: BEGAN)
    # Then
    assert report.redriven == [good] and invoke.invoked == [("keep-recording", b'{"dialog_id": "d-1"}')]
    assert [(f.message_id, f.reason) for f in report.failed] == [(broken, "the body is not JSON")]
    assert report.left_new == 1 and queue.counts() == (2, 0)  # the broken one and the newer one stay, visible


def test_a_refused_invoke_keeps_its_message_and_says_why() -> None:
    queue = FakeDeadLetters()
    mid = queue.send(json.dumps({"dialog_id": "d-1"}))
    report = redrive(QUEUE, queue, FakeInvoker(), now_ms=lambda: BEGAN)
    assert report.redriven == [] and [f.message_id for f in report.failed] == [mid]
    assert report.failed[0].reason.startswith("invoke failed: An error occurred (ResourceNotFoundException)")
    assert queue.counts() == (1, 0)


def test_a_redrive_stops_at_its_limit_and_leaves_the_others() -> None:
    queue, invoke = FakeDeadLetters(), FakeInvoker("keep-recording")
    for n in range(3):
        queue.send(json.dumps({"dialog_id": f"d-{n}"}))
    report = redrive(QUEUE, queue, invoke, limit=2, now_ms=lambda: BEGAN)
    assert len(report.redriven) == 2 and queue.counts() == (1, 0)


# ---------------------------------------------------------------------------------------------- stream queues
STREAM_QUEUE = DeadLetterQueue(name="expire", url="https://sqs/expire", function="expire", holds="batches",
                               kind="stream")
STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/dialogs/stream/2026-01-01T00:00:00.000"
TTL_ONLY = {"eventName": ["REMOVE"], "userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]}}


def _record(seq: int, *, ttl: bool) -> dict[str, Any]:
    record: dict[str, Any] = {"eventName": "REMOVE", "dynamodb": {"SequenceNumber": str(seq)}}
    if ttl:
        record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return record


class FakeStream:
    """The stream's records by sequence number; `gone` once the stream no longer holds them."""

    def __init__(self, records: list[dict[str, Any]], *, gone: bool = False) -> None:
        self.kept, self.gone = records, gone

    def records(self, batch: StreamBatch) -> list[dict[str, Any]]:
        if self.gone:
            raise StreamRecordsGoneError("the stream no longer holds this batch")
        return [r for r in self.kept if int(batch.start) <= int(r["dynamodb"]["SequenceNumber"]) <= int(batch.end)]

    def filter_patterns(self, function: str, stream_arn: str) -> list[dict[str, Any]]:
        return [TTL_ONLY]


class FakeSyncInvoker:
    def __init__(self, *, fails: bool = False) -> None:
        self.fails = fails
        self.invoked: list[tuple[str, Any]] = []

    def __call__(self, function: str, payload: bytes) -> None:
        if self.fails:
            raise InvokeFailedError("the function failed again: ServiceException: still down")
        self.invoked.append((function, json.loads(payload)))


def _failure_record(start: int, end: int) -> str:
    return json.dumps({"requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
                       "DDBStreamBatchInfo": {"shardId": "shard-1", "startSequenceNumber": str(start),
                                              "endSequenceNumber": str(end), "batchSize": 2, "streamArn": STREAM}})


def test_a_stream_batch_is_listed_by_where_it_is() -> None:
    queue = FakeDeadLetters()
    queue.send(_failure_record(5, 9))
    (letter,) = list_dead_letters(STREAM_QUEUE, queue).messages
    assert letter.source == "stream"
    assert letter.error == "RetryAttemptsExhausted after 11 attempt(s)"
    assert letter.subject == "2 record(s) of dialogs, sequence numbers 5..9"


def test_a_stream_redrive_invokes_the_records_the_filter_passes_and_deletes_the_message() -> None:
    queue, invoke = FakeDeadLetters(), FakeSyncInvoker()
    mid = queue.send(_failure_record(5, 9))
    stream = FakeStream([_record(4, ttl=True), _record(5, ttl=True), _record(7, ttl=False), _record(9, ttl=True)])
    report = redrive(STREAM_QUEUE, queue, FakeInvoker(), now_ms=lambda: BEGAN,
                     stream=StreamRedrive(batches=stream, invoke=invoke))
    assert report.redriven == [mid] and queue.counts() == (0, 0)
    ((function, event),) = invoke.invoked
    assert function == "expire"
    assert [r["dynamodb"]["SequenceNumber"] for r in event["Records"]] == ["5", "9"]  # 7 was never Expire's


def test_a_stream_batch_that_fails_again_or_is_gone_stays_and_says_why() -> None:
    for stream, invoke, why in [(FakeStream([_record(5, ttl=True)]), FakeSyncInvoker(fails=True), "still down"),
                                (FakeStream([], gone=True), FakeSyncInvoker(), "no longer holds")]:
        queue = FakeDeadLetters()
        mid = queue.send(_failure_record(5, 5))
        report = redrive(STREAM_QUEUE, queue, FakeInvoker(), now_ms=lambda: BEGAN,
                         stream=StreamRedrive(batches=stream, invoke=invoke))
        assert report.redriven == [] and [f.message_id for f in report.failed] == [mid]
        assert why in report.failed[0].reason
        assert queue.counts() == (1, 0)


def test_filter_patterns_beyond_exact_matching_are_refused_not_guessed() -> None:
    assert pattern_supported(TTL_ONLY)
    assert not pattern_supported({"eventName": [{"prefix": "RE"}]})
    assert matches_pattern(TTL_ONLY, _record(1, ttl=True))
    assert not matches_pattern(TTL_ONLY, _record(1, ttl=False))


def test_a_poisoned_message_first_in_the_queue_holds_up_none_of_the_good_ones_after_it() -> None:
    # Given a message Lambda would refuse, oldest, then two good ones
    queue, invoke = FakeDeadLetters(), FakeInvoker("keep-recording")
    broken = queue.send("not json", sent_ms=BEGAN - 3)
    good = [queue.send(json.dumps({"dialog_id": f"d-{n}"}), sent_ms=BEGAN - 2 + n) for n in (0, 1)]
    # When
    report = redrive(QUEUE, queue, invoke, now_ms=lambda: BEGAN)
    # Then the good ones are redriven, the poisoned one is left visible with its reason
    assert sorted(report.redriven) == sorted(good) and len(invoke.invoked) == 2
    assert [(f.message_id, f.reason) for f in report.failed] == [(broken, "the body is not JSON")]
    assert queue.counts() == (1, 0)
