"""KeepRecording (invoked asynchronously): copies the call's recording into the recordings bucket while its link
still works, records where it is or why not, then lets transcription continue."""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.models.transcription import KeepRecordingRequest
from callhook.observability import logger, metrics, tracer
from callhook.services.recordings import KeepRecordingSettings, keep_recording
from callhook.settings import load_settings


@logger.inject_lambda_context(correlation_id_path="dialog_id")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_parser(model=KeepRecordingRequest)
def handler(request: KeepRecordingRequest, context: LambdaContext) -> dict[str, Any] | None:
    recording = keep_recording(request, load_settings(KeepRecordingSettings))
    return None if recording is None else recording.model_dump(mode="json")
