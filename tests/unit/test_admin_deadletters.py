"""`callhook dlq` on fakes of its ports: a listing reads both shapes AWS writes without taking a message, and a
redrive invokes each message that was there when it began, deleting only what Lambda accepted."""

from __future__ import annotations

import json

from callhook_admin.models.deadletter import DeadLetterQueue
from callhook_admin.services.deadletters import list_dead_letters, redrive
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
