"""The raw events table: rejected payloads (replayable) and early update events (applied when the call appears)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from callhook.aws import client, from_item, to_item, to_value
from callhook.models.event import RawEvent, RawEventKind
from callhook.repositories._dynamo import translated_errors

BY_CHANNEL_INDEX = "by_channel_time"
BY_DIALOG_INDEX = "by_dialog"
BY_HELD_INDEX = "by_held"  # sparse: held events, per channel, in arrival order


class EventRepository:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def put(self, event: RawEvent) -> None:
        item = event.model_dump(mode="json", exclude_none=True)
        with translated_errors("store raw event"):
            client("dynamodb").put_item(TableName=self.table, Item=to_item(item))

    def get(self, event_id: str) -> RawEvent | None:
        with translated_errors("read raw event"):
            resp = client("dynamodb").get_item(TableName=self.table, Key={"event_id": {"S": event_id}})
        return RawEvent.model_validate(from_item(resp["Item"])) if "Item" in resp else None

    def list_by_channel(self, channel_id: str, *, limit: int = 50, start_key: dict[str, Any] | None = None,
                        kind: RawEventKind | None = None) -> tuple[list[RawEvent], dict[str, Any] | None]:
        kwargs: dict[str, Any] = {
            "TableName": self.table, "IndexName": BY_CHANNEL_INDEX, "KeyConditionExpression": "channel_id = :c",
            "ExpressionAttributeValues": {":c": {"S": channel_id}}, "ScanIndexForward": False, "Limit": limit}
        if kind is not None:
            kwargs["FilterExpression"] = "kind = :k"
            kwargs["ExpressionAttributeValues"][":k"] = {"S": kind.value}
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        with translated_errors("list raw events"):
            resp = client("dynamodb").query(**kwargs)
        return [RawEvent.model_validate(from_item(i)) for i in resp.get("Items", [])], resp.get("LastEvaluatedKey")

    def pending_updates(self, dialog_id: str) -> list[RawEvent]:
        """Early update events for a dialog, oldest first (sparse index on dialog_id)."""
        with translated_errors("list pending updates"):
            resp = client("dynamodb").query(
                TableName=self.table, IndexName=BY_DIALOG_INDEX,
                KeyConditionExpression="dialog_id = :d", FilterExpression="kind = :k",
                ExpressionAttributeValues={":d": {"S": dialog_id}, ":k": {"S": RawEventKind.PENDING_UPDATE.value}})
        return [RawEvent.model_validate(from_item(i)) for i in resp.get("Items", [])]

    def linked_to(self, dialog_id: str) -> list[str]:
        """Ids of every raw event linked to the dialog (update events, replayed ones), whatever their kind."""
        ids: list[str] = []
        with translated_errors("list raw events of dialog"):
            for page in client("dynamodb").get_paginator("query").paginate(
                    TableName=self.table, IndexName=BY_DIALOG_INDEX, KeyConditionExpression="dialog_id = :d",
                    ExpressionAttributeValues={":d": {"S": dialog_id}}, ProjectionExpression="event_id"):
                ids += [i["event_id"]["S"] for i in page.get("Items", [])]
        return ids

    def of_channel(self, channel_id: str) -> Iterator[RawEvent]:
        """Every raw event of the channel (admin time: erasure looks for a number in the stored requests)."""
        with translated_errors("list raw events"):
            for page in client("dynamodb").get_paginator("query").paginate(
                    TableName=self.table, IndexName=BY_CHANNEL_INDEX, KeyConditionExpression="channel_id = :c",
                    ExpressionAttributeValues={":c": {"S": channel_id}}):
                for item in page.get("Items", []):
                    yield RawEvent.model_validate(from_item(item))

    def delete(self, event_id: str) -> None:
        with translated_errors("delete raw event"):
            client("dynamodb").delete_item(TableName=self.table, Key={"event_id": {"S": event_id}})

    def held(self, channel_id: str, *, limit: int = 100) -> list[RawEvent]:
        """The channel's held events, oldest first: the order in which they must become dialogs."""
        with translated_errors("list held events"):
            resp = client("dynamodb").query(
                TableName=self.table, IndexName=BY_HELD_INDEX, KeyConditionExpression="held_channel = :c",
                ExpressionAttributeValues={":c": {"S": channel_id}}, ScanIndexForward=True, Limit=limit)
        return [RawEvent.model_validate(from_item(i)) for i in resp.get("Items", [])]

    def mark(self, event_id: str, kind: RawEventKind, *, remove: tuple[str, ...] = (), **fields: Any) -> None:
        sets = {"kind": kind.value, **fields}
        expression = "SET " + ", ".join(f"#k{i} = :v{i}" for i in range(len(sets)))
        names = {f"#k{i}": k for i, k in enumerate(sets)}
        if remove:
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
            names |= {f"#r{i}": k for i, k in enumerate(remove)}
        with translated_errors("update raw event"):
            client("dynamodb").update_item(
                TableName=self.table, Key={"event_id": {"S": event_id}}, UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={f":v{i}": to_value(v) for i, v in enumerate(sets.values())})
