"""BeginWorkflow task: marks the dialog's workflow running and applies early update events."""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.models.workflow import WorkflowState
from callhook.observability import logger, metrics, tracer
from callhook.services.workflow import begin_workflow
from callhook.settings import CommonSettings, load_settings


@logger.inject_lambda_context(correlation_id_path="dialog_id")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_parser(model=WorkflowState)
def handler(state: WorkflowState, context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(CommonSettings)
    return begin_workflow(state, dialogs_table=settings.dialogs_table,
                          events_table=settings.events_table).output()
