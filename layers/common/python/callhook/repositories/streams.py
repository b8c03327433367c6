"""DynamoDB stream records decoded at the boundary: each written item as a GetItem reads it (callhook.aws.from_item),
for the services on the configuration tables' streams (CheckConfig, NormalizeOperator)."""

from __future__ import annotations

from callhook.aws import from_item
from callhook.models.stream import StreamRecord
from callhook.ports import WrittenItem


def written_items(records: list[StreamRecord]) -> list[WrittenItem]:
    """The items the batch wrote, in order; removals carry no new image and are left out."""
    return [WrittenItem(keys=frozenset(record.dynamodb.keys), item=from_item(record.dynamodb.new_image))
            for record in records if record.dynamodb.new_image is not None]
