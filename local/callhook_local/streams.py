"""DynamoDB streams to Lambda on the local stack, delivered as an event source mapping delivers them on AWS.

moto 5.2.5 (`StreamShard.add`) invokes every function mapped to a table's stream synchronously inside each write,
with every record still pending in the shard, and ignores the mapping's `FilterCriteria`; its records never carry
`userIdentity`, which DynamoDB sets on TTL's own removals. Locally, then, ExpireFunction (filtered on AWS to TTL
removals) was invoked inside every write of the dialogs table: six sandbox round trips per webhook, each waited for
by the write, for nothing.

Here, as on AWS:
- a record reaches a mapping's function only when it matches one of the mapping's `FilterCriteria` patterns (the
  event-filtering syntax, evaluated by moto's own EventBridge pattern matcher on the record as the function would
  receive it); a function none of whose records match is not invoked, and filtered-out records are dropped;
- a removal made by TTL (`ttl_removal()`: the local TTL sweeper, ttl.py) carries
  `"userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"}`.

- the stream keeps its records 24 hours (moto emptied the shard at each delivery and so reused sequence numbers):
  GetShardIterator/GetRecords read a batch again by its sequence numbers, as `callhook dlq redrive` does;
- each mapping reads from its own position in the shard; a batch the function fails on is retried
  `MaximumRetryAttempts` times, then Lambda's failure record (shard, first and last sequence numbers, not the
  records) goes to the mapping's `DestinationConfig.OnFailure` queue and the mapping moves past the batch.

Unchanged from moto: the delivery stays synchronous inside the write (the retries too, without Lambda's backoff),
one batch of the mapping's pending records; BatchSize and bisecting are not applied.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from moto.awslambda.utils import get_backend
from moto.core.utils import unix_time
from moto.dynamodb.models.table import StreamRecord, StreamShard
from moto.events.models import EventPattern, EventPatternParser

log = logging.getLogger("callhook.local.streams")

TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}

_ttl = threading.local()
_lock = threading.Lock()
_installed = False


@contextlib.contextmanager
def ttl_removal() -> Iterator[None]:
    """Removals made on this thread inside the block are TTL's own: their stream records carry its userIdentity."""
    previous = getattr(_ttl, "active", False)
    _ttl.active = True
    try:
        yield
    finally:
        _ttl.active = previous


def lambda_record(record: dict[str, Any], source_arn: str, region: str) -> dict[str, Any]:
    """A stream record as the function receives it (moto's `send_dynamodb_items`, plus userIdentity when set)."""
    dynamodb = dict(record["dynamodb"])
    if isinstance(dynamodb.get("ApproximateCreationDateTime"), datetime):
        dynamodb["ApproximateCreationDateTime"] = unix_time(dynamodb["ApproximateCreationDateTime"])
    out = {"eventID": record["eventID"], "eventName": record["eventName"], "eventVersion": record["eventVersion"],
           "eventSource": record["eventSource"], "awsRegion": region, "dynamodb": dynamodb,
           "eventSourceARN": source_arn}
    if "userIdentity" in record:
        out["userIdentity"] = record["userIdentity"]
    return out


def _patterns(filter_criteria: Any) -> list[EventPattern] | None:
    """The mapping's filter patterns; None when it has none (every record passes)."""
    filters = (filter_criteria or {}).get("Filters") or []
    if not filters:
        return None
    return [EventPattern(f["Pattern"], EventPatternParser(f["Pattern"]).parse()) for f in filters]


def matches(filter_criteria: Any, record: dict[str, Any]) -> bool:
    """Whether a record (as the function receives it) passes the mapping's FilterCriteria: any pattern matching."""
    patterns = _patterns(filter_criteria)
    return patterns is None or any(p.matches_event(record) for p in patterns)


RETENTION_S = 24 * 3600  # DynamoDB Streams keeps a record 24 hours
MAX_LOCAL_RETRIES = 10  # a mapping with -1 (retry until the record expires) is retried this often locally


def _trim(shard: StreamShard) -> None:
    """Drop records older than the stream keeps; sequence numbers stay as they were (moto indexes from the first)."""
    horizon = time.time() - RETENTION_S
    old = 0
    while old < len(shard.items) and _created(shard.items[old]) < horizon:
        old += 1
    if old:
        del shard.items[:old]
        shard.starting_sequence_number += old


def _created(item: StreamRecord) -> float:
    created = item.record["dynamodb"].get("ApproximateCreationDateTime")
    return float(unix_time(created)) if isinstance(created, datetime) else float(created or 0)


def _add(self: StreamShard, old: Any, new: Any) -> None:
    """moto's StreamShard.add, with the records kept, and each mapping delivering from its own position: its
    FilterCriteria applied, its retries, then its on-failure destination."""
    view = self.table.stream_specification["StreamViewType"]  # type: ignore[index]
    event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    seq = len(self.items) + self.starting_sequence_number
    self.items.append(StreamRecord(self.table, view, event_name, old, new, seq))
    _trim(self)
    for function_arn, esm in list(self.table.lambda_event_source_mappings.items()):
        start = max(getattr(esm, "callhook_next", seq), self.starting_sequence_number)
        pending = self.items[start - self.starting_sequence_number:]
        esm.callhook_next = seq + 1
        region = function_arn.split(":")[3]
        records = [lambda_record(item.record, esm.event_source_arn, region) for item in pending]
        records = [r for r in records if matches(getattr(esm, "filter_criteria", None), r)]
        if records:
            _deliver(self, function_arn, esm, records)


def _deliver(shard: StreamShard, function_arn: str, esm: Any, records: list[dict[str, Any]]) -> None:
    """One batch to the function: retried MaximumRetryAttempts times, then its failure record to the destination."""
    function = get_backend(shard.account_id, function_arn.split(":")[3])._lambdas.get_arn(function_arn)
    retries = getattr(esm, "max_retry_attempts", None)
    retries = MAX_LOCAL_RETRIES if retries is None or int(retries) < 0 else int(retries)
    body = json.dumps({"Records": records})
    attempt = 0
    while attempt <= retries:
        attempt += 1
        headers: dict[str, str] = {}
        function.invoke(body, {}, headers)
        if "x-amz-function-error" not in headers:
            return
    destination = ((getattr(esm, "destination_config", None) or {}).get("OnFailure") or {}).get("Destination")
    log.error("stream batch of %s failed after %d attempts; %s", function.function_name, attempt,
              f"its record goes to {destination}" if destination else "dropped (no on-failure destination)")
    if destination:
        _send_failure_record(shard, function_arn, esm, records, attempt, destination)


def failure_record(function_arn: str, stream_arn: str, shard_id: str, records: list[dict[str, Any]],
                   attempts: int) -> dict[str, Any]:
    """What Lambda sends to a stream event source's on-failure destination: the batch's place, not its records."""
    def arrival(record: dict[str, Any]) -> str:
        moment = datetime.fromtimestamp(float(record["dynamodb"]["ApproximateCreationDateTime"]), UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": function_arn,
                           "condition": "RetryAttemptsExhausted", "approximateInvokeCount": attempts},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "DDBStreamBatchInfo": {
            "shardId": shard_id, "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": arrival(records[0]),
            "approximateArrivalOfLastRecord": arrival(records[-1]),
            "batchSize": len(records), "streamArn": stream_arn}}


def _send_failure_record(shard: StreamShard, function_arn: str, esm: Any, records: list[dict[str, Any]],
                         attempts: int, destination: str) -> None:
    """Into moto's SQS backend directly: Lambda sends it as the service, with the function's role (SAM grants it
    sqs:SendMessage on the queue; the template tests check that grant)."""
    from moto.sqs.models import sqs_backends

    account, region, name = destination.split(":")[4], destination.split(":")[3], destination.split(":")[5]
    body = failure_record(function_arn, esm.event_source_arn, shard.id, records, attempts)
    try:
        sqs_backends[account][region].send_message(name, json.dumps(body))
    except Exception:
        log.exception("the failure record of a %s stream batch could not be sent to %s", function_arn, destination)


def _get(self: StreamShard, start: int, quantity: int) -> list[dict[str, Any]]:
    """moto's StreamShard.get for a shard that keeps its records: an iterator from before the oldest kept record
    reads from the oldest (DynamoDB answers TrimmedDataAccessException; the redrive checks the sequence numbers)."""
    first = max(0, int(start) - self.starting_sequence_number)
    return [_as_get_records_answers(i.to_json()) for i in self.items[first:first + quantity]]


def _as_get_records_answers(record: dict[str, Any]) -> dict[str, Any]:
    """The API names the identity's members PrincipalId and Type; Lambda's event names them principalId and type."""
    identity = record.get("userIdentity")
    if not identity:
        return record
    return {**record, "userIdentity": {"PrincipalId": identity["principalId"], "Type": identity["type"]}}


def install() -> None:
    """Idempotent: filtered delivery, and TTL's identity on the removals it makes."""
    global _installed
    with _lock:
        if _installed:
            return
        record_init = StreamRecord.__init__

        def init(self: StreamRecord, table: Any, stream_type: str, event_name: str, old: Any, new: Any,
                 seq: int) -> None:
            record_init(self, table, stream_type, event_name, old, new, seq)
            if event_name == "REMOVE" and getattr(_ttl, "active", False):
                self.record["userIdentity"] = dict(TTL_IDENTITY)

        StreamRecord.__init__ = init  # type: ignore[method-assign]
        StreamShard.add = _add  # type: ignore[method-assign]
        StreamShard.get = _get  # type: ignore[method-assign]
        _installed = True
