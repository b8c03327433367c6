"""Dead letters: list what asynchronous invocations gave up on, and redrive it to the function it was meant for.

A queue holds messages for exactly one function (template.yaml): KeepRecording's failed copies, or the Transcribe
job-state events that EventBridge could not deliver or the completion function failed on. Either way the body is
the original event, so a redrive is that event invoked again, asynchronously, and the message deleted only once
Lambda has accepted it. A redriven invoke that fails again is dead-lettered again as a new message: a redrive never
picks up what arrived after it began, so it always ends.

Over ports (`callhook_admin.ports.DeadLetters`, `AsyncInvoker`): the CLI hands in the SQS and Lambda adapters
(callhook_cli/wiring.py); tests/unit/test_admin_deadletters.py proves the redrive on fakes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from callhook_admin.errors import InvokeFailedError
from callhook_admin.models.deadletter import DeadLetter, DeadLetterQueue, QueueListing, RedriveFailure, RedriveReport
from callhook_admin.ports import AsyncInvoker, DeadLetters

REDRIVE_VISIBILITY_S = 60  # a message being redriven is hidden this long; one that fails reappears after it
EMPTY_RECEIVES = 3


def read_message(message: dict[str, Any]) -> DeadLetter:
    """Either AWS shape -> DeadLetter. Lambda: RequestID/ErrorCode/ErrorMessage; EventBridge: ERROR_CODE/..."""
    attrs = {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()}
    system = message.get("Attributes", {})
    source: Literal["lambda", "eventbridge", "unknown"] = "unknown"
    error: str | None = None
    if "RULE_ARN" in attrs or "ERROR_CODE" in attrs:
        source, error = "eventbridge", ": ".join(str(attrs[k]) for k in ("ERROR_CODE", "ERROR_MESSAGE") if attrs.get(k))
    elif "RequestID" in attrs or "ErrorMessage" in attrs:
        source, error = "lambda", attrs.get("ErrorMessage")
    raw = message.get("Body", "")
    try:
        body: Any = json.loads(raw)
    except ValueError:
        body = raw
    sent = system.get("SentTimestamp")
    return DeadLetter(
        message_id=message["MessageId"], source=source, error=error or None, body=body, subject=_subject(body),
        receive_count=int(system.get("ApproximateReceiveCount", 0)),
        sent_at=datetime.fromtimestamp(int(sent) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if sent else None)


def _subject(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
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


def redrive(queue: DeadLetterQueue, repo: DeadLetters, invoke: AsyncInvoker, *, limit: int | None = None,
            now_ms: Callable[[], int] | None = None) -> RedriveReport:
    """Invoke the queue's function again with each message that was there when the redrive began; delete each
    message Lambda accepted. Messages whose body is not JSON are left (Lambda would refuse them) and reported."""
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
            elif not _redrive_one(queue, message, report, invoke):
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
