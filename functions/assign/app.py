"""AssignOperator / AssignDefaultOperator / LeaveUnassigned tasks.

The composition root of the assignment decisions: the adapters are built once per sandbox (per settings, which
tests may switch) and handed to the pure services. With `$.error` set (the Catch of Enrich put it there) the
channel's enrich_error_action applies.
"""

import functools
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.models.workflow import WorkflowState
from callhook.observability import logger, metrics, tracer
from callhook.repositories.dialogs import DialogRepository
from callhook.repositories.directory import DynamoInstanceSettings, DynamoOperators
from callhook.services.assignment import assign_operator
from callhook.services.enrich_error_policy import apply_enrich_error_policy
from callhook.settings import CommonSettings, load_settings


@dataclass(frozen=True)
class Adapters:
    dialogs: DialogRepository
    operators: DynamoOperators
    instance: DynamoInstanceSettings


@functools.cache
def adapters(settings: CommonSettings) -> Adapters:
    return Adapters(dialogs=DialogRepository(settings.dialogs_table),
                    operators=DynamoOperators(settings.operators_table),
                    instance=DynamoInstanceSettings(settings.settings_table))


@logger.inject_lambda_context(correlation_id_path="dialog_id")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_parser(model=WorkflowState)
def handler(state: WorkflowState, context: LambdaContext) -> dict[str, Any]:
    io = adapters(load_settings(CommonSettings))
    if state.error is not None:
        metrics.add_metric(name="EnrichmentFailed", unit=MetricUnit.Count, value=1)
        result = apply_enrich_error_policy(state, io.dialogs, io.operators, io.instance)
    else:
        result = assign_operator(state, io.dialogs, io.operators)
    metrics.add_metric(name="OperatorAssigned" if result.operator_id is not None else "OperatorNotAssigned",
                       unit=MetricUnit.Count, value=1)  # the dashboard's assignment rate is their ratio
    return result.output()
