"""Transcribe task (`lambda:invoke.waitForTaskToken`): decides whether the call is transcribed (docs/workflow.md) and
starts the job; the state's result is the token's answer (from here when skipped, else from the completion).

The composition root of the transcription step: the adapters are built once per sandbox (per settings, which tests
may switch) and handed to services/transcription.py."""

import functools
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.models.transcription import TranscribeTask
from callhook.observability import logger, metrics, tracer
from callhook.services.transcription import TranscriptionPorts, transcribe
from callhook.settings import TranscriptionSettings, load_settings
from callhook.wiring import transcription_ports


@functools.cache
def adapters(settings: TranscriptionSettings) -> TranscriptionPorts:
    return transcription_ports(dialogs_table=settings.dialogs_table, channels_table=settings.channels_table,
                               recordings_bucket=settings.recordings_bucket)


@logger.inject_lambda_context(correlation_id_path="state.dialog_id")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_parser(model=TranscribeTask)
def handler(task: TranscribeTask, context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(TranscriptionSettings)
    return transcribe(task, adapters(settings), settings).model_dump(mode="json")
