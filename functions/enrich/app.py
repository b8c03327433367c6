"""Enrich task: runs the channel's Action Jail action. Its errors are the ASL's Retry/Catch contract.

The composition root of the Enrich step: adapters built once per sandbox (per settings), handed to the service.
"""

import functools
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.models.workflow import WorkflowState
from callhook.observability import logger, metrics, tracer
from callhook.repositories.dialogs import DialogRepository
from callhook.repositories.directory import DynamoActions, DynamoChannels
from callhook.repositories.payloads import BucketPayloads
from callhook.repositories.recording_requests import KeepRecordingRequests
from callhook.services.actions import run_action
from callhook.services.enrichment import enrich
from callhook.settings import CommonSettings, load_settings


@dataclass(frozen=True)
class Adapters:
    dialogs: DialogRepository
    actions: DynamoActions
    channels: DynamoChannels
    recordings: KeepRecordingRequests
    payloads: BucketPayloads


@functools.cache
def adapters(settings: CommonSettings) -> Adapters:
    return Adapters(dialogs=DialogRepository(settings.dialogs_table), actions=DynamoActions(settings.actions_table),
                    channels=DynamoChannels(settings.channels_table), recordings=KeepRecordingRequests(),
                    payloads=BucketPayloads(settings.recordings_bucket))


@logger.inject_lambda_context(correlation_id_path="dialog_id")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_parser(model=WorkflowState)
def handler(state: WorkflowState, context: LambdaContext) -> dict[str, Any]:
    io = adapters(load_settings(CommonSettings))
    return enrich(state, io.dialogs, io.actions, io.channels, run_action, io.recordings, io.payloads).output()
