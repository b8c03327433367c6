"""RecordWorkflowFailure task: the Catch target of every step but Enrich (whose Catch is the error policy)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.models.workflow import WorkflowState
from callhook.observability import logger, metrics, tracer
from callhook.services.workflow import record_workflow_failure
from callhook.settings import CommonSettings, load_settings


@logger.inject_lambda_context(correlation_id_path="dialog_id")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_parser(model=WorkflowState)
def handler(state: WorkflowState, context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric(name="WorkflowStepFailed", unit=MetricUnit.Count, value=1)
    settings = load_settings(CommonSettings)
    return record_workflow_failure(state, dialogs_table=settings.dialogs_table).output()
