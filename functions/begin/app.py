"""BeginWorkflow task: marks the dialog's workflow running and applies early update events.

The composition root: adapters built once per sandbox (per settings), handed to services/workflow_steps.py."""

import functools
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.models.workflow import WorkflowState
from callhook.observability import logger, metrics, tracer
from callhook.repositories.dialogs import DialogRepository
from callhook.repositories.events import EventRepository
from callhook.repositories.recording_requests import LambdaRecordingRequests
from callhook.services.workflow_steps import begin_workflow
from callhook.settings import RecordingRequestSettings, load_settings


@dataclass(frozen=True)
class Adapters:
    dialogs: DialogRepository
    events: EventRepository
    recordings: LambdaRecordingRequests


@functools.cache
def adapters(settings: RecordingRequestSettings) -> Adapters:
    return Adapters(dialogs=DialogRepository(settings.dialogs_table), events=EventRepository(settings.events_table),
                    recordings=LambdaRecordingRequests(settings.dialogs_table, settings.keep_recording_function))


@logger.inject_lambda_context(correlation_id_path="dialog_id")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_parser(model=WorkflowState)
def handler(state: WorkflowState, context: LambdaContext) -> dict[str, Any]:
    io = adapters(load_settings(RecordingRequestSettings))
    return begin_workflow(state, io.dialogs, io.events, io.recordings).output()
