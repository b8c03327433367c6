"""RecordWorkflowFailure task: the Catch target of every step but Enrich (whose Catch is the error policy).

The composition root: the dialogs adapter built once per sandbox (per settings), handed to the service."""

import functools
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.models.workflow import WorkflowState
from callhook.observability import logger, metrics, tracer
from callhook.repositories.dialogs import DialogRepository
from callhook.services.workflow_steps import record_workflow_failure
from callhook.settings import CommonSettings, load_settings


@functools.cache
def adapters(settings: CommonSettings) -> DialogRepository:
    return DialogRepository(settings.dialogs_table)


@logger.inject_lambda_context(correlation_id_path="dialog_id")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_parser(model=WorkflowState)
def handler(state: WorkflowState, context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric(name="WorkflowStepFailed", unit=MetricUnit.Count, value=1)
    return record_workflow_failure(state, adapters(load_settings(CommonSettings))).output()
