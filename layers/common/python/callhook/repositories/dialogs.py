"""The dialogs table: one item per call, keyed by its deterministic dialog_id."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any, cast

from botocore.exceptions import ClientError

from callhook.aws import client, from_item, to_item, to_value
from callhook.clock import utc_now as utc_now  # re-exported: callers import it from here too
from callhook.errors import DialogExistsError as DialogExistsError  # raised here; defined with the errors
from callhook.models.dialog import Dialog, FeedEntry
from callhook.repositories._dynamo import translated_errors

BY_CHANNEL_INDEX = "by_channel_time"
WORKFLOW_PENDING_INDEX = "by_workflow_pending"
RECORDING_PENDING_INDEX = "by_recording_pending"
# The reconciliation index is keyed by a small fixed set of shards (not one key: a GSI partition takes ~1000
# writes/s, and every new dialog writes it twice), so the reconciler reads it with a few queries and no scan.
PENDING_SHARDS = 8


def pending_shard(dialog_id: str) -> str:
    return f"pending-{int(hashlib.sha256(dialog_id.encode()).hexdigest()[:8], 16) % PENDING_SHARDS}"


class DialogRepository:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def put_new(self, dialog: Dialog) -> None:
        """Create the dialog unless it exists: the one write that makes a call durable.

        Raises:
            DialogExistsError: with the stored item (ALL_OLD), so a duplicate costs no extra read.
            DependencyUnavailableError: throttled; the webhook answers 5xx so the provider retries.
        """
        item = dialog.model_dump(mode="json", exclude_none=False)
        item["telephony"] = _compact(item["telephony"])
        if item.get("expires_at") is None:  # TTL reads a number; kept forever means no attribute
            item.pop("expires_at", None)
        item["workflow_pending"] = pending_shard(dialog.dialog_id)  # sparse index key: removed when the workflow runs
        if dialog.recording is not None:  # asked for by ingest right after this write; KeepRecording clears it
            item["recording_pending"] = item["workflow_pending"]
            item["recording_requested_at"] = dialog.created_at
        try:
            with translated_errors("store dialog"):
                client("dynamodb").put_item(
                    TableName=self.table,
                    Item=to_item(item),
                    ConditionExpression="attribute_not_exists(dialog_id)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as exc:
            old = cast(dict[str, Any], exc.response).get("Item")  # ReturnValuesOnConditionCheckFailure=ALL_OLD
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException" and old:
                raise DialogExistsError(Dialog.model_validate(from_item(old))) from exc
            raise

    def get(self, dialog_id: str) -> Dialog | None:
        item = self.get_raw(dialog_id)
        return None if item is None else Dialog.model_validate(item)

    def get_raw(self, dialog_id: str) -> dict[str, Any] | None:
        with translated_errors("read dialog"):
            resp = client("dynamodb").get_item(TableName=self.table, Key={"dialog_id": {"S": dialog_id}},
                                               ConsistentRead=True)
        return from_item(resp["Item"]) if "Item" in resp else None

    def set_sections(self, dialog_id: str, sections: dict[str, Any], *, remove: tuple[str, ...] = ()) -> None:
        """Overwrite whole sections (`enrichment`, `assignment`, ...): idempotent, so a retried step is harmless."""
        names = {f"#s{i}": k for i, k in enumerate(sections)} | {"#u": "updated_at"}
        values = {f":s{i}": to_value(v) for i, v in enumerate(sections.values())} | {":u": to_value(utc_now())}
        expr = "SET " + ", ".join(f"#s{i} = :s{i}" for i in range(len(sections))) + ", #u = :u"
        if remove:
            names |= {f"#r{i}": k for i, k in enumerate(remove)}
            expr += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        with translated_errors("update dialog"):
            client("dynamodb").update_item(
                TableName=self.table, Key={"dialog_id": {"S": dialog_id}}, UpdateExpression=expr,
                ExpressionAttributeNames=names, ExpressionAttributeValues=values,
                ConditionExpression="attribute_exists(dialog_id)",
            )

    def fill_telephony(self, dialog_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Fill telephony fields that are still empty; never blank one. Returns the new telephony, None if no dialog.

        Absent keys are "empty": the stored telephony omits nulls (see put_new), so `if_not_exists` is exact.
        """
        fields = _compact(fields)
        if not fields:
            return self._telephony_or_none(dialog_id)
        names = {"#t": "telephony", "#u": "updated_at"} | {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":f{i}": to_value(v) for i, v in enumerate(fields.values())} | {":u": to_value(utc_now())}
        sets = [f"#t.#f{i} = if_not_exists(#t.#f{i}, :f{i})" for i in range(len(fields))]
        try:
            with translated_errors("update dialog telephony"):
                resp = client("dynamodb").update_item(
                    TableName=self.table, Key={"dialog_id": {"S": dialog_id}},
                    UpdateExpression="SET " + ", ".join([*sets, "#u = :u"]),
                    ExpressionAttributeNames=names, ExpressionAttributeValues=values,
                    ConditionExpression="attribute_exists(dialog_id)", ReturnValues="ALL_NEW",
                )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return dict(from_item(resp["Attributes"])["telephony"])

    def _telephony_or_none(self, dialog_id: str) -> dict[str, Any] | None:
        item = self.get_raw(dialog_id)
        return None if item is None else dict(item["telephony"])

    def add_feed_entry(self, dialog_id: str, entry: FeedEntry) -> bool:
        """Append to the feed once per entry id (a retried step posts nothing twice). Returns False if present."""
        try:
            with translated_errors("append feed"):
                client("dynamodb").update_item(
                    TableName=self.table, Key={"dialog_id": {"S": dialog_id}},
                    UpdateExpression="SET #f = list_append(if_not_exists(#f, :empty), :e), #u = :u ADD #ids :id",
                    ConditionExpression="attribute_exists(dialog_id) AND NOT contains(#ids, :idv)",
                    ExpressionAttributeNames={"#f": "feed", "#ids": "feed_ids", "#u": "updated_at"},
                    ExpressionAttributeValues={
                        ":empty": {"L": []}, ":e": to_value([entry.model_dump(mode="json")]),
                        ":id": {"SS": [entry.id]}, ":idv": {"S": entry.id}, ":u": to_value(utc_now()),
                    },
                )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def list_by_channel(self, channel_id: str, *, since: str | None = None, until: str | None = None,
                        limit: int = 50, start_key: dict[str, Any] | None = None,
                        ) -> tuple[list[Dialog], dict[str, Any] | None]:
        """Newest first, through the by-channel index (never a scan)."""
        cond = "channel_id = :c"
        values: dict[str, Any] = {":c": {"S": channel_id}}
        if since and until:
            cond += " AND created_at BETWEEN :a AND :b"
            values |= {":a": {"S": since}, ":b": {"S": until}}
        elif since:
            cond += " AND created_at >= :a"
            values[":a"] = {"S": since}
        elif until:
            cond += " AND created_at <= :b"
            values[":b"] = {"S": until}
        kwargs: dict[str, Any] = {"TableName": self.table, "IndexName": BY_CHANNEL_INDEX,
                                  "KeyConditionExpression": cond, "ExpressionAttributeValues": values,
                                  "ScanIndexForward": False, "Limit": limit}
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        with translated_errors("list dialogs"):
            resp = client("dynamodb").query(**kwargs)
        dialogs = [Dialog.model_validate(from_item(i)) for i in resp.get("Items", [])]
        return dialogs, resp.get("LastEvaluatedKey")

    def list_workflow_pending(self, *, older_than: str, limit: int = 100) -> list[Dialog]:
        """Dialogs stored before `older_than` whose workflow never began, oldest first, through the sparse index."""
        items = self._query_shards(WORKFLOW_PENDING_INDEX, "workflow_pending", "created_at", older_than, limit)
        return sorted((Dialog.model_validate(from_item(i)) for i in items), key=lambda d: d.created_at)[:limit]

    def _query_shards(self, index: str, shard_key: str, sort_key: str, before: str,
                      limit: int) -> list[dict[str, Any]]:
        """Every shard of a sparse reconciliation index, entries whose sort key is before `before`."""
        found: list[dict[str, Any]] = []
        for shard in range(PENDING_SHARDS):
            with translated_errors(f"query {index}"):
                resp = client("dynamodb").query(
                    TableName=self.table, IndexName=index, Limit=limit,
                    KeyConditionExpression=f"{shard_key} = :s AND {sort_key} < :t",
                    ExpressionAttributeValues={":s": {"S": f"pending-{shard}"}, ":t": {"S": before}})
            found += resp.get("Items", [])
        return found

    def mark_recording_requested(self, dialog_id: str) -> None:
        """Put the dialog in the recording-reconciliation index (until KeepRecording records an outcome), unless its
        recording is kept already."""
        try:
            with translated_errors("update dialog"):
                client("dynamodb").update_item(
                    TableName=self.table, Key={"dialog_id": {"S": dialog_id}},
                    UpdateExpression="SET recording_pending = :s, recording_requested_at = :t",
                    ConditionExpression="attribute_exists(dialog_id) AND NOT (#r.#st = :kept)",
                    ExpressionAttributeNames={"#r": "recording", "#st": "status"},
                    ExpressionAttributeValues={":s": {"S": pending_shard(dialog_id)}, ":t": {"S": utc_now()},
                                               ":kept": {"S": "kept"}})
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def list_recording_pending(self, *, requested_before: str, limit: int = 100) -> list[str]:
        """Dialog ids whose recording was asked for before `requested_before` and has no outcome yet."""
        items = self._query_shards(RECORDING_PENDING_INDEX, "recording_pending", "recording_requested_at",
                                   requested_before, limit)
        return [i["dialog_id"]["S"] for i in items][:limit]

    def delete(self, dialog_id: str) -> bool:
        """Erasure: remove the item. False when there was none."""
        with translated_errors("delete dialog"):
            resp = client("dynamodb").delete_item(TableName=self.table, Key={"dialog_id": {"S": dialog_id}},
                                                  ReturnValues="ALL_OLD")
        return "Attributes" in resp

    def numbers_of_channel(self, channel_id: str) -> Iterator[tuple[str, str | None, str | None]]:
        """(dialog_id, caller, callee) of every dialog of the channel: an admin-time query of the by-channel index
        that reads three attributes of each, never a scan and never on a request path."""
        paginator = client("dynamodb").get_paginator("query")
        with translated_errors("list dialogs"):
            for page in paginator.paginate(
                    TableName=self.table, IndexName=BY_CHANNEL_INDEX, KeyConditionExpression="channel_id = :c",
                    ExpressionAttributeValues={":c": {"S": channel_id}},
                    ProjectionExpression="dialog_id, #t.caller, #t.callee",
                    ExpressionAttributeNames={"#t": "telephony"}):
                for item in page.get("Items", []):
                    telephony = from_item(item).get("telephony", {})
                    yield item["dialog_id"]["S"], telephony.get("caller"), telephony.get("callee")

    def clear_workflow_pending(self, dialog_id: str) -> None:
        with translated_errors("update dialog"):
            client("dynamodb").update_item(TableName=self.table, Key={"dialog_id": {"S": dialog_id}},
                                           UpdateExpression="REMOVE workflow_pending")

def _compact(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}
