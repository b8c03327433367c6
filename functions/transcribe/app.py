"""Transcribe task (`lambda:invoke.waitForTaskToken`): decides whether the call is transcribed (CONTRACT §4) and
starts the job; the state's result is the token's answer (from here when skipped, else from the completion)."""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.models.transcription import TranscribeTask
from callhook.observability import logger, metrics, tracer
from callhook.services.transcription import TranscriptionSettings, transcribe
from callhook.settings import load_settings


@logger.inject_lambda_context(correlation_id_path="state.dialog_id")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_parser(model=TranscribeTask)
def handler(task: TranscribeTask, context: LambdaContext) -> dict[str, Any]:
    return transcribe(task, load_settings(TranscriptionSettings)).model_dump(mode="json")
