"""DynamoDB TTL for the local stack: moto stores `TimeToLiveSpecification` but never expires an item.

The sweeper does what DynamoDB does in the background: it deletes each item whose TTL attribute (a number, epoch
seconds) is in the past, from every table of template.yaml with a TimeToLiveSpecification. A deletion is made inside
the DynamoDB service (moto's backend, as TTL is no API call of anyone's), so a table's stream sees a REMOVE with the
old image and `userIdentity` dynamodb.amazonaws.com (streams.ttl_removal), as it sees TTL's own removals on AWS: a
mapping filtered to those (ExpireFunction's FilterCriteria) receives them. AWS deletes within a few days of expiry;
the sweeper runs every `interval_s` and on demand, and its clock can be moved so that tests need not wait.
"""

from __future__ import annotations

import logging
import threading
import time
from decimal import Decimal, InvalidOperation
from typing import Any

from moto.dynamodb.models import dynamodb_backends

from callhook_local.iam import ACCOUNT, REGION
from callhook_local.streams import ttl_removal

log = logging.getLogger("callhook.local")


class TtlSweeper:
    def __init__(self, client: Any, tables: dict[str, str], interval_s: float = 60.0) -> None:
        self.client = client  # a dynamodb client of the local stack
        self.tables = tables  # table name -> TTL attribute
        self.interval_s = interval_s
        self.offset_s = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self.offset_s

    def advance(self, seconds: float) -> None:
        """Move the sweeper's clock forward (tests): items expire as if that much time had passed."""
        self.offset_s += seconds

    def reset_clock(self) -> None:
        self.offset_s = 0.0

    def sweep(self) -> int:
        """Delete every expired item now; returns how many."""
        with self._lock:
            return sum(self._sweep_table(table, attribute) for table, attribute in self.tables.items())

    def _sweep_table(self, table: str, attribute: str) -> int:
        key_names = [k["AttributeName"] for k in self.client.describe_table(TableName=table)["Table"]["KeySchema"]]
        now, deleted = self.now(), 0
        for page in self.client.get_paginator("scan").paginate(
                TableName=table, FilterExpression="attribute_type(#t, :n)",
                ExpressionAttributeNames={"#t": attribute}, ExpressionAttributeValues={":n": {"S": "N"}}):
            for item in page.get("Items", []):
                try:
                    expires = Decimal(item[attribute]["N"])
                except (KeyError, InvalidOperation):
                    continue
                if expires < Decimal(str(now)):
                    with ttl_removal():
                        dynamodb_backends[ACCOUNT][REGION].delete_item(table, {k: item[k] for k in key_names})
                    deleted += 1
        return deleted

    def start(self) -> TtlSweeper:
        threading.Thread(target=self._run, daemon=True, name="ttl-sweeper").start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sweep()
            except Exception:
                log.exception("TTL sweep failed")
