"""A stream-triggered function for the local stack's own tests: keeps `upper` = name.upper() on every item.

It writes back to the table that triggers it, so it is re-entered from inside its own write (moto calls stream
functions synchronously): it writes only when the stored value differs, the loop guard every such function needs.
"""

from __future__ import annotations

import os
from typing import Any

import boto3


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ddb = boto3.client("dynamodb")
    table = os.environ["PROBE_TABLE"]
    for record in event["Records"]:
        image = record["dynamodb"].get("NewImage")
        if image is None:
            continue
        upper = image["name"]["S"].upper()
        try:
            ddb.update_item(TableName=table, Key={"pk": image["pk"]},
                            UpdateExpression="SET #u = :u", ConditionExpression="attribute_exists(pk) AND #u <> :u "
                            "OR attribute_exists(pk) AND attribute_not_exists(#u)",
                            ExpressionAttributeNames={"#u": "upper"}, ExpressionAttributeValues={":u": {"S": upper}})
        except ddb.exceptions.ConditionalCheckFailedException:
            continue  # already normalised (or deleted): nothing changes, nothing is written
    return {"batchItemFailures": []}
