"""On the operators' stream: keeps each operator's derived index keys (`email_key`, `ext_key`) in step with the item,
for every writer, so an operator written in the DynamoDB console is found through the indexes like one written by
the CLI (the lookup also scans when the index misses, for the moment before this runs).

The composition root: the stream's images decoded here (repositories/streams.py), the operators adapter built once
per sandbox (per settings), the decisions in services/operators.py."""

import functools
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.models.stream import StreamEvent
from callhook.observability import logger, metrics, tracer
from callhook.repositories.directory import DynamoOperators
from callhook.repositories.streams import written_items
from callhook.services.operators import normalize_operators
from callhook.settings import CommonSettings, load_settings


@functools.cache
def adapters(settings: CommonSettings) -> DynamoOperators:
    return DynamoOperators(settings.operators_table)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_parser(model=StreamEvent)
def handler(event: StreamEvent, context: LambdaContext) -> dict[str, Any]:
    report = normalize_operators(written_items(event.records), adapters(load_settings(CommonSettings)))
    for invalid in report.invalid:  # still indexed, but skipped by assignment until fixed
        logger.warning("operator item invalid", user_id=invalid.item_id, problems=invalid.summary())
    if report.written:
        logger.info("operator index keys written", user_ids=report.written)
        metrics.add_metric(name="OperatorsNormalized", unit=MetricUnit.Count, value=len(report.written))
    return report.model_dump(mode="json")
