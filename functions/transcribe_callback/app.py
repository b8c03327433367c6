"""Transcription completion: Amazon Transcribe's "Transcribe Job State Change" event (through the EventBridge rule
in template.yaml), or the workflow's notice that it stopped waiting. Stores the transcript or the failure on the
dialog and answers the waiting Transcribe state's task token.

The composition root of the completion: adapters built once per sandbox (per settings), handed to the service."""

import functools
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import TypeAdapter

from callhook.models.transcription import JobStateChangeEvent, TranscriptionWaitEnded
from callhook.observability import logger, metrics, tracer
from callhook.services.transcription import TranscriptionPorts, complete_transcription
from callhook.settings import TranscriptionSettings, load_settings
from callhook.wiring import transcription_ports

_MESSAGE: TypeAdapter[JobStateChangeEvent | TranscriptionWaitEnded] = TypeAdapter(
    JobStateChangeEvent | TranscriptionWaitEnded)


@functools.cache
def adapters(settings: TranscriptionSettings) -> TranscriptionPorts:
    return transcription_ports(dialogs_table=settings.dialogs_table, channels_table=settings.channels_table,
                               recordings_bucket=settings.recordings_bucket)


@logger.inject_lambda_context(correlation_id_path="detail.TranscriptionJobName || dialog_id")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    settings = load_settings(TranscriptionSettings)
    outcome = complete_transcription(_MESSAGE.validate_python(event), adapters(settings), settings)
    return None if outcome is None else outcome.model_dump(mode="json")
