"""Dead letters: what an asynchronous invocation gave up on, kept in an SQS queue until redriven."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class DeadLetterQueue(BaseModel):
    """A dead-letter queue of the stack and the one function its messages are redriven to."""

    model_config = ConfigDict(frozen=True)

    name: str  # short name for `--queue`: recordings, transcriptions
    url: str
    function: str  # what `redrive` invokes (asynchronously, as the original invoke was)
    holds: str  # for people: what a message in it is


class DeadLetter(BaseModel):
    """One kept message, in either shape AWS writes: Lambda's (attributes RequestID, ErrorCode, ErrorMessage) or
    EventBridge's (ERROR_CODE, ERROR_MESSAGE, RULE_ARN, TARGET_ARN). The body is the original event in both."""

    message_id: str
    sent_at: str | None = None  # ISO-8601 UTC
    receive_count: int = 0
    source: Literal["lambda", "eventbridge", "unknown"] = "unknown"
    error: str | None = None
    subject: str | None = None  # the dialog or transcription job it concerns, when the body names one
    body: Any = None  # the event (parsed JSON), or the raw text when it is not JSON


class QueueListing(BaseModel):
    queue: DeadLetterQueue
    depth: int  # ApproximateNumberOfMessages (visible)
    in_flight: int  # ApproximateNumberOfMessagesNotVisible (being redriven or listed right now)
    messages: list[DeadLetter] = Field(default_factory=list)


class RedriveFailure(BaseModel):
    message_id: str
    reason: str


class RedriveReport(BaseModel):
    queue: str
    function: str
    redriven: list[str] = Field(default_factory=list)  # message ids invoked again and deleted
    failed: list[RedriveFailure] = Field(default_factory=list)  # left in the queue
    left_new: int = 0  # messages that arrived after the redrive began (a redriven invoke that failed again)
