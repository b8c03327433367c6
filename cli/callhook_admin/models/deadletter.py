"""Dead letters: what an asynchronous invocation gave up on, kept in an SQS queue until redriven."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class DeadLetterQueue(BaseModel):
    """A dead-letter queue of the stack and the one function its messages are redriven to."""

    model_config = ConfigDict(frozen=True)

    name: str  # short name for `--queue`: recordings, transcriptions, expire, ...
    url: str
    function: str  # what `redrive` invokes
    holds: str  # for people: what a message in it is
    # async: the body is the event, invoked again asynchronously; stream: the body names a stream batch, whose
    # records are read from the stream and invoked synchronously, as the event source mapping invokes them
    kind: Literal["async", "stream"] = "async"


class StreamBatch(BaseModel):
    """Lambda's record of a stream batch it gave up on (the `DDBStreamBatchInfo` of its on-failure record): where
    the records are, not the records."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    stream_arn: str = Field(alias="streamArn")
    shard_id: str = Field(alias="shardId")
    start: str = Field(alias="startSequenceNumber")
    end: str = Field(alias="endSequenceNumber")
    size: int = Field(alias="batchSize")


class DeadLetter(BaseModel):
    """One kept message, in the shapes AWS writes: Lambda's (attributes RequestID, ErrorCode, ErrorMessage) or
    EventBridge's (ERROR_CODE, ERROR_MESSAGE, RULE_ARN, TARGET_ARN), whose body is the original event; or a stream
    event source's on-failure record, whose body names the batch (`stream`)."""

    message_id: str
    sent_at: str | None = None  # ISO-8601 UTC
    receive_count: int = 0
    source: Literal["lambda", "eventbridge", "stream", "unknown"] = "unknown"
    error: str | None = None
    subject: str | None = None  # the dialog, transcription job or stream batch it concerns, when the body names one
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
