"""SQS dead-letter queues and the asynchronous invoke that redrives them: the AWS calls of services/deadletters."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from callhook.aws import client
from callhook_admin.errors import InvokeFailedError

ALL = ["All"]


class QueueRepository:
    """The `callhook_admin.ports.DeadLetters` adapter."""

    def __init__(self, url: str) -> None:
        self.url = url

    def counts(self) -> tuple[int, int]:
        """(visible, in flight): SQS's approximate counts."""
        attrs = client("sqs").get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages",
                                               "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attrs.get("ApproximateNumberOfMessages", 0)), int(attrs.get("ApproximateNumberOfMessagesNotVisible",
                                                                               0))

    def receive(self, *, max_messages: int = 10, visibility_s: int = 0) -> list[dict[str, Any]]:
        """Up to 10 messages with every attribute. `visibility_s=0` only looks (they stay visible)."""
        resp = client("sqs").receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=max(1, min(10, max_messages)), VisibilityTimeout=visibility_s,
            WaitTimeSeconds=0, AttributeNames=ALL, MessageAttributeNames=ALL)
        return list(resp.get("Messages", []))

    def release(self, receipt_handle: str) -> None:
        """Make a received message visible again at once."""
        client("sqs").change_message_visibility(QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=0)

    def delete(self, receipt_handle: str) -> None:
        client("sqs").delete_message(QueueUrl=self.url, ReceiptHandle=receipt_handle)


def invoke_async(function: str, payload: bytes) -> None:
    """InvocationType=Event, as the original invoke: Lambda retries and dead-letters it again if it fails.
    The `callhook_admin.ports.AsyncInvoker` adapter: raises InvokeFailedError with the SDK's message."""
    try:
        client("lambda").invoke(FunctionName=function, InvocationType="Event", Payload=payload)
    except (ClientError, BotoCoreError) as exc:
        raise InvokeFailedError(str(exc)) from exc
