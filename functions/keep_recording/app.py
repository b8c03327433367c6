"""KeepRecording (invoked asynchronously): copies the call's recording into the recordings bucket while its link
still works, records where it is or why not, then lets transcription continue.

The composition root: the adapters (the download, the bucket, the secrets and transcription's) are built once per
sandbox (per settings) and handed to services/recordings.py."""

import functools
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.models.transcription import KeepRecordingRequest
from callhook.observability import logger, metrics, tracer
from callhook.repositories.recordings import OutboundDownloads, S3RecordingObjects
from callhook.secrets_resolver import ResolvedSecrets
from callhook.services.recordings import KeepRecordingSettings, RecordingPorts, keep_recording
from callhook.settings import load_settings
from callhook.wiring import transcription_ports


@functools.cache
def adapters(settings: KeepRecordingSettings) -> RecordingPorts:
    transcription = transcription_ports(dialogs_table=settings.dialogs_table, channels_table=settings.channels_table,
                                        recordings_bucket=settings.recordings_bucket)
    return RecordingPorts(transcription=transcription, downloads=OutboundDownloads(),
                          objects=S3RecordingObjects(settings.recordings_bucket), secrets=ResolvedSecrets())


@logger.inject_lambda_context(correlation_id_path="dialog_id")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_parser(model=KeepRecordingRequest)
def handler(request: KeepRecordingRequest, context: LambdaContext) -> dict[str, Any] | None:
    settings = load_settings(KeepRecordingSettings)
    recording = keep_recording(request, adapters(settings), settings)
    return None if recording is None else recording.model_dump(mode="json")
