"""Expire: the dialogs table's stream, filtered on AWS to DynamoDB TTL's own removals. For each expired dialog,
deletes its recording and transcript objects and its Transcribe job (the item and its raw events expire by TTL)."""

import functools
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.aws import from_item
from callhook.observability import logger, metrics, tracer
from callhook.repositories.erasure import AwsLeftovers
from callhook.services.retention import forget_removed_dialog
from callhook.settings import CommonSettings, load_settings


@functools.cache
def adapters(settings: CommonSettings) -> AwsLeftovers:
    """The composition root: built once per sandbox (per settings), handed to services/retention.py."""
    return AwsLeftovers(settings.recordings_bucket)


def _removed(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [r["dynamodb"]["OldImage"] for r in event.get("Records", [])
            if r.get("eventName") == "REMOVE" and r.get("dynamodb", {}).get("OldImage")]


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Only TTL removals arrive (FilterCriteria, applied by the local stack too); anything else: return at once.
    if not _removed(event):
        return {"forgotten": []}
    result: dict[str, Any] = _forget(event, context)
    return result


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
def _forget(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    leftovers = adapters(load_settings(CommonSettings))
    done = [forget_removed_dialog(from_item(image), leftovers) for image in _removed(event)]
    logger.info("expired dialogs forgotten", dialogs=[d.dialog_id for d in done],
                objects=sum(len(d.object_keys) for d in done))
    return {"forgotten": [d.dialog_id for d in done]}
