"""Dead letters: list what asynchronous invocations and stream event sources gave up on, and redrive it to the
function it was meant for.

A queue holds messages for exactly one function (template.yaml). Asynchronous ones: KeepRecording's failed copies,
or the Transcribe job-state events that EventBridge could not deliver or the completion function failed on; the
body is the original event, so a redrive is that event invoked again, asynchronously, and the message deleted only
once Lambda has accepted it. A redriven invoke that fails again is dead-lettered again as a new message: a redrive
never picks up what arrived after it began, so it always ends.

Stream ones (Expire, ReleaseHeld, NormalizeOperator, CheckConfig): the body is Lambda's record of the failed batch,
its shard and first and last sequence numbers, not the records. A redrive reads those records from the stream again
(it keeps them 24 hours), keeps the ones the mapping's filter passes, as Lambda did, and invokes the function
synchronously with them, as the mapping does; the message is deleted only once the function succeeded. An expired
dialog's recording, transcript and Transcribe job are so deleted from its old image, which only the stream holds.

Over ports (`callhook_admin.ports.DeadLetters`, `AsyncInvoker`): the CLI hands in the SQS and Lambda adapters
(callhook_cli/wiring.py); tests/unit/test_admin_deadletters.py proves the redrive on fakes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from callhook_admin.errors import InvokeFailedError, StreamRecordsGoneError
from callhook_admin.models.deadletter import (
    DeadLetter,
    DeadLetterQueue,
    QueueListing,
    RedriveFailure,
    RedriveReport,
    StreamBatch,
)
from callhook_admin.ports import AsyncInvoker, DeadLetters, StreamBatches, SyncInvoker

REDRIVE_VISIBILITY_S = 60  # a message being redriven is hidden this long; one that fails reappears after it
EMPTY_RECEIVES = 3


def read_message(message: dict[str, Any]) -> DeadLetter:
    """Either AWS shape -> DeadLetter. Lambda: RequestID/ErrorCode/ErrorMessage; EventBridge: ERROR_CODE/..."""
    attrs = {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()}
    system = message.get("Attributes", {})
    source: Literal["lambda", "eventbridge", "stream", "unknown"] = "unknown"
    error: str | None = None
    raw = message.get("Body", "")
    try:
        body: Any = json.loads(raw)
    except ValueError:
        body = raw
    if isinstance(body, dict) and isinstance(body.get("DDBStreamBatchInfo"), dict):
        context = body.get("requestContext") or {}
        source, error = "stream", (f"{context.get('condition', 'failed')} after "
                                   f"{context.get('approximateInvokeCount', '?')} attempt(s)")
    elif "RULE_ARN" in attrs or "ERROR_CODE" in attrs:
        source, error = "eventbridge", ": ".join(str(attrs[k]) for k in ("ERROR_CODE", "ERROR_MESSAGE") if attrs.get(k))
    elif "RequestID" in attrs or "ErrorMessage" in attrs:
        source, error = "lambda", attrs.get("ErrorMessage")
    sent = system.get("SentTimestamp")
    return DeadLetter(
        message_id=message["MessageId"], source=source, error=error or None, body=body, subject=_subject(body),
        receive_count=int(system.get("ApproximateReceiveCount", 0)),
        sent_at=datetime.fromtimestamp(int(sent) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if sent else None)


def _subject(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    info = body.get("DDBStreamBatchInfo")
    if isinstance(info, dict):
        table = str(info.get("streamArn", "")).split(":table/", 1)[-1].split("/stream/", 1)[0]
        return (f"{info.get('batchSize')} record(s) of {table}, sequence numbers {info.get('startSequenceNumber')}.."
                f"{info.get('endSequenceNumber')}")
    detail = body.get("detail")
    if isinstance(detail, dict) and detail.get("TranscriptionJobName"):
        return str(detail["TranscriptionJobName"])
    return str(body["dialog_id"]) if body.get("dialog_id") else None


def list_dead_letters(queue: DeadLetterQueue, repo: DeadLetters, *, limit: int = 50) -> QueueListing:
    """The queue's counts and up to `limit` of its messages, looked at without taking them (visibility 0)."""
    visible, in_flight = repo.counts()
    seen: dict[str, DeadLetter] = {}
    for _ in range(limit // 10 + 3):  # SQS samples servers: a few more receives than pages find the rest
        batch = [read_message(m) for m in repo.receive(max_messages=limit - len(seen))]
        fresh = [m for m in batch if m.message_id not in seen]
        seen |= {m.message_id: m for m in fresh}
        if not fresh or len(seen) >= limit:
            break
    messages = sorted(seen.values(), key=lambda m: m.sent_at or "")
    return QueueListing(queue=queue, depth=visible, in_flight=in_flight, messages=messages)


@dataclass(frozen=True)
class StreamRedrive:
    """What a stream queue's redrive needs besides the queue: the stream, and a synchronous invoke."""

    batches: StreamBatches
    invoke: SyncInvoker


def redrive(queue: DeadLetterQueue, repo: DeadLetters, invoke: AsyncInvoker, *, limit: int | None = None,
            now_ms: Callable[[], int] | None = None, stream: StreamRedrive | None = None) -> RedriveReport:
    """Invoke the queue's function again with each message that was there when the redrive began; delete each
    message Lambda accepted (a stream queue's: each batch the function succeeded on). Messages whose body is not
    JSON are left (Lambda would refuse them) and reported."""
    began = (now_ms or (lambda: int(time.time() * 1000)))()
    report = RedriveReport(queue=queue.name, function=queue.function)
    seen: set[str] = set()
    idle = 0  # receives that brought nothing new (SQS samples its servers: one empty answer is not the end)
    while idle < EMPTY_RECEIVES:
        fresh = 0
        for message in repo.receive(visibility_s=REDRIVE_VISIBILITY_S):
            mid, handle = message["MessageId"], message["ReceiptHandle"]
            done = limit is not None and len(report.redriven) + len(report.failed) >= limit
            if mid in seen or done:
                repo.release(handle)
                continue
            seen.add(mid)
            fresh += 1
            if int(message.get("Attributes", {}).get("SentTimestamp", 0)) >= began:
                report.left_new += 1  # failed again during this redrive (or just arrived): the next one's work
                repo.release(handle)
            elif not (_redrive_batch(queue, message, report, stream) if queue.kind == "stream"
                      else _redrive_one(queue, message, report, invoke)):
                repo.release(handle)  # stays in the queue, visible
            else:
                repo.delete(handle)
        idle = 0 if fresh else idle + 1
    return report


def _redrive_one(queue: DeadLetterQueue, message: dict[str, Any], report: RedriveReport,
                 invoke: AsyncInvoker) -> bool:
    """True once Lambda accepted the event again (the caller deletes the message)."""
    body = message.get("Body", "")
    try:
        json.loads(body)
    except ValueError:
        report.failed.append(RedriveFailure(message_id=message["MessageId"], reason="the body is not JSON"))
        return False
    try:
        invoke(queue.function, body.encode())
    except InvokeFailedError as exc:
        report.failed.append(RedriveFailure(message_id=message["MessageId"], reason=f"invoke failed: {exc}"))
        return False
    report.redriven.append(message["MessageId"])
    return True


def _redrive_batch(queue: DeadLetterQueue, message: dict[str, Any], report: RedriveReport,
                   stream: StreamRedrive | None) -> bool:
    """True once the function succeeded on the batch's records, read again from the stream."""
    mid = message["MessageId"]
    if stream is None:
        raise ValueError(f"queue {queue.name} holds stream batches: its redrive needs the stream (StreamRedrive)")
    try:
        batch = StreamBatch.model_validate(json.loads(message.get("Body", ""))["DDBStreamBatchInfo"])
    except (ValueError, KeyError, TypeError):
        report.failed.append(RedriveFailure(message_id=mid, reason="the body is not a stream batch's failure record"))
        return False
    try:
        records = stream.batches.records(batch)
        patterns = stream.batches.filter_patterns(queue.function, batch.stream_arn)
    except StreamRecordsGoneError as exc:
        report.failed.append(RedriveFailure(message_id=mid, reason=str(exc)))
        return False
    unsupported = [p for p in patterns if not pattern_supported(p)]
    if unsupported:
        report.failed.append(RedriveFailure(message_id=mid, reason=f"filter patterns this redrive cannot evaluate: "
                                                                   f"{json.dumps(unsupported)}"))
        return False
    delivered = [r for r in records if not patterns or any(matches_pattern(p, r) for p in patterns)]
    if not delivered:  # nothing of it reaches the function (the records were filtered out): nothing to redo
        report.redriven.append(mid)
        return True
    try:
        stream.invoke(queue.function, json.dumps({"Records": delivered}, default=str).encode())
    except InvokeFailedError as exc:
        report.failed.append(RedriveFailure(message_id=mid, reason=f"invoke failed: {exc}"))
        return False
    report.redriven.append(mid)
    return True


def pattern_supported(pattern: Any) -> bool:
    """The part of Lambda's event-filtering syntax evaluated here: nested objects of lists of literal values (exact
    matching). Anything else (prefix, numeric, anything-but, exists, ...) is refused rather than guessed."""
    if isinstance(pattern, dict):
        return all(pattern_supported(v) for v in pattern.values())
    return isinstance(pattern, list) and all(isinstance(v, str | int | float | bool) or v is None for v in pattern)


def matches_pattern(pattern: dict[str, Any], record: Any) -> bool:
    """Whether a stream record (as the function receives it) passes one filter pattern, as Lambda decides it."""
    if not isinstance(record, dict):
        return False
    for key, wanted in pattern.items():
        if key not in record:
            return False
        if isinstance(wanted, dict):
            if not matches_pattern(wanted, record[key]):
                return False
        else:
            got = record[key]
            values = got if isinstance(got, list) else [got]
            if not any(v in wanted for v in values):
                return False
    return True
