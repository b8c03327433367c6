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
from callhook.repositories.dialogs import DialogRepository
from callhook.repositories.directory import DynamoChannels
from callhook.repositories.transcribe import AmazonTranscribe, S3Transcripts, StepFunctionsTaskTokens
from callhook.repositories.transcriptions import TranscriptionRepository
from callhook.services.transcription import TranscriptionPorts, complete_transcription
from callhook.settings import TranscriptionSettings, load_settings

_MESSAGE: TypeAdapter[JobStateChangeEvent | TranscriptionWaitEnded] = TypeAdapter(
    JobStateChangeEvent | TranscriptionWaitEnded)


@functools.cache
def adapters(settings: TranscriptionSettings) -> TranscriptionPorts:
    return TranscriptionPorts(
        dialogs=DialogRepository(settings.dialogs_table), store=TranscriptionRepository(settings.dialogs_table),
        channels=DynamoChannels(settings.channels_table), jobs=AmazonTranscribe(),
        transcripts=S3Transcripts(settings.recordings_bucket), tokens=StepFunctionsTaskTokens())


@logger.inject_lambda_context(correlation_id_path="detail.TranscriptionJobName || dialog_id")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    settings = load_settings(TranscriptionSettings)
    outcome = complete_transcription(_MESSAGE.validate_python(event), adapters(settings), settings)
    return None if outcome is None else outcome.model_dump(mode="json")
