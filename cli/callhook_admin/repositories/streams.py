"""A DynamoDB stream read again by sequence numbers, the mapping's filters, and the synchronous invoke: the AWS calls
of a stream queue's redrive (services/deadletters.py)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from callhook.aws import client
from callhook_admin.errors import InvokeFailedError, StreamRecordsGoneError
from callhook_admin.models.deadletter import StreamBatch

EMPTY_PAGES = 5  # an open shard may answer empty pages before the next records; this many end the read
GONE_CODES = ("TrimmedDataAccessException", "ResourceNotFoundException", "ExpiredIteratorException")


class DynamoStreamBatches:
    """The `callhook_admin.ports.StreamBatches` adapter."""

    def records(self, batch: StreamBatch) -> list[dict[str, Any]]:
        streams = client("dynamodbstreams")
        try:
            iterator = streams.get_shard_iterator(StreamArn=batch.stream_arn, ShardId=batch.shard_id,
                                                  ShardIteratorType="AT_SEQUENCE_NUMBER",
                                                  SequenceNumber=batch.start)["ShardIterator"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] in GONE_CODES:
                raise StreamRecordsGoneError(_gone(batch, exc.response["Error"]["Code"])) from exc
            raise
        found: list[dict[str, Any]] = []
        empty = 0
        while iterator and empty < EMPTY_PAGES:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records = page.get("Records", [])
            empty = 0 if records else empty + 1
            for record in records:
                if int(record["dynamodb"]["SequenceNumber"]) > int(batch.end):
                    return self._checked(batch, found)
                found.append(_as_lambda_delivers(record, batch.stream_arn))
            iterator = page.get("NextShardIterator")
        return self._checked(batch, found)

    @staticmethod
    def _checked(batch: StreamBatch, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not found or int(found[0]["dynamodb"]["SequenceNumber"]) != int(batch.start):
            raise StreamRecordsGoneError(_gone(batch, "its first record is not in the shard"))
        return found

    def filter_patterns(self, function: str, stream_arn: str) -> list[dict[str, Any]]:
        pages = client("lambda").get_paginator("list_event_source_mappings").paginate(
            FunctionName=function, EventSourceArn=stream_arn)
        mappings = [m for page in pages for m in page.get("EventSourceMappings", [])]
        filters = [f for m in mappings for f in (m.get("FilterCriteria") or {}).get("Filters", [])]
        return [json.loads(f["Pattern"]) for f in filters]


def _gone(batch: StreamBatch, why: str) -> str:
    return (f"the stream no longer holds this batch ({why}; DynamoDB Streams keeps records 24 hours): its "
            f"{batch.size} record(s) of {batch.stream_arn} cannot be read again")


def _as_lambda_delivers(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    out = dict(record)
    dynamodb = dict(out["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    out["dynamodb"] = dynamodb
    out["eventSourceARN"] = stream_arn
    identity = out.get("userIdentity")
    if identity:  # GetRecords names them PrincipalId/Type; the function's event (and its filters) principalId/type
        out["userIdentity"] = {"type": identity.get("Type"), "principalId": identity.get("PrincipalId")}
    return out


def invoke_sync(function: str, payload: bytes) -> None:
    """InvocationType=RequestResponse, as a stream's event source mapping invokes. The `SyncInvoker` adapter."""
    try:
        resp = client("lambda").invoke(FunctionName=function, InvocationType="RequestResponse", Payload=payload)
    except (ClientError, BotoCoreError) as exc:
        raise InvokeFailedError(str(exc)) from exc
    if resp.get("FunctionError"):
        answer = resp["Payload"].read().decode("utf-8", "replace")
        try:
            error = json.loads(answer)
            answer = f"{error.get('errorType')}: {error.get('errorMessage')}"
        except (ValueError, AttributeError):
            pass
        raise InvokeFailedError(f"the function failed again: {answer[:500]}")
