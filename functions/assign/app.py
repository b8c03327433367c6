"""AssignOperator / AssignDefaultOperator / LeaveUnassigned tasks.

With `$.error` set (the Catch of Enrich put it there) the channel's enrich_error_action applies.
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.models.workflow import WorkflowState
from callhook.observability import logger, metrics, tracer
from callhook.services.assignment import apply_enrich_error_policy, assign_operator
from callhook.settings import CommonSettings, load_settings


@logger.inject_lambda_context(correlation_id_path="dialog_id")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_parser(model=WorkflowState)
def handler(state: WorkflowState, context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(CommonSettings)
    if state.error is not None:
        metrics.add_metric(name="EnrichmentFailed", unit=MetricUnit.Count, value=1)
        result = apply_enrich_error_policy(state, settings)
    else:
        result = assign_operator(state, settings)
    metrics.add_metric(name="OperatorAssigned" if result.operator_id is not None else "OperatorNotAssigned",
                       unit=MetricUnit.Count, value=1)  # the dashboard's assignment rate is their ratio
    return result.output()
