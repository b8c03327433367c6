"""On the channels' and actions' streams: names every invalid field of an item as soon as it is saved, whoever saved
it (a typo made in the DynamoDB console is otherwise found only when that channel's webhooks are held).

The composition root: the stream's images are decoded here (repositories/streams.py); the verdicts are pure."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.models.stream import StreamEvent
from callhook.observability import logger, metrics, tracer
from callhook.repositories.streams import written_items
from callhook.services.config_check import check_written


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_parser(model=StreamEvent)
def handler(event: StreamEvent, context: LambdaContext) -> dict[str, Any]:
    checks = check_written(written_items(event.records))
    for check in checks:
        if check.valid:
            logger.info("configuration item valid", kind=check.kind, item_id=check.item_id)
            continue
        logger.error("configuration item invalid", kind=check.kind, item_id=check.item_id,
                     invalid_fields=check.invalid_fields, problems=[str(p) for p in check.problems])
        metrics.add_metric(name="InvalidConfigItem", unit=MetricUnit.Count, value=1)
    return {"checked": len(checks), "invalid": [c.model_dump(mode="json") for c in checks if not c.valid]}
