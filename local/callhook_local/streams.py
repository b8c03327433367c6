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

Unchanged from moto: the delivery stays synchronous inside the write, one batch of the pending records per mapping,
and BatchSize, retries and bisecting are not applied.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from moto.awslambda.utils import get_backend
from moto.core.utils import unix_time
from moto.dynamodb.models.table import StreamRecord, StreamShard
from moto.events.models import EventPattern, EventPatternParser

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


def _add(self: StreamShard, old: Any, new: Any) -> None:
    """moto's StreamShard.add, with each mapping's FilterCriteria applied to the records it delivers."""
    view = self.table.stream_specification["StreamViewType"]  # type: ignore[index]
    event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    seq = len(self.items) + self.starting_sequence_number
    self.items.append(StreamRecord(self.table, view, event_name, old, new, seq))
    mappings = list(self.table.lambda_event_source_mappings.items())
    if not mappings:
        return
    result: Any = None
    invoked = False
    for function_arn, esm in mappings:
        region = function_arn.split(":")[3]
        records = [lambda_record(item.record, esm.event_source_arn, region) for item in self.items]
        records = [r for r in records if matches(getattr(esm, "filter_criteria", None), r)]
        if not records:
            continue
        function = get_backend(self.account_id, region)._lambdas.get_arn(function_arn)
        result = function.invoke(json.dumps({"Records": records}), {}, {})
        invoked = True
    if result or not invoked:  # delivered (moto clears the shard on a result), or filtered out: dropped
        self.items = []


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
        _installed = True
