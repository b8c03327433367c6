"""Channels table stream: when a channel item is written, its held webhooks become dialogs if it is valid now
(services/kept.py). A still-invalid item leaves them held; the reconciler retries on its schedule."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.observability import logger, metrics, tracer
from callhook.services.kept import release_held
from callhook.settings import IngestSettings, load_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_source(data_class=DynamoDBStreamEvent)
def handler(event: DynamoDBStreamEvent, context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(IngestSettings)
    channel_ids = {str(record.dynamodb.keys["channel_id"]) for record in event.records
                   if record.dynamodb is not None and record.dynamodb.keys and record.event_name is not None
                   and record.event_name.name in ("INSERT", "MODIFY")}
    released: dict[str, list[str]] = {}
    for channel_id in sorted(channel_ids):
        released[channel_id] = release_held(channel_id, settings).released
    metrics.add_metric(name="HeldReleased", unit=MetricUnit.Count, value=sum(map(len, released.values())))
    return {"released": released}
