"""The `callhook.ports.RecordingRequests` adapter: ask the KeepRecording function to copy a dialog's recording,
without waiting (Lambda, InvocationType=Event), after putting the dialog in the recording-reconciliation index."""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from callhook.aws import client
from callhook.errors import DependencyUnavailableError
from callhook.models.transcription import KeepRecordingRequest
from callhook.observability import logger, metrics
from callhook.repositories.dialogs import DialogRepository
from callhook.settings import RecordingRequestSettings, load_settings


@dataclass(frozen=True)
class LambdaRecordingRequests:
    dialogs_table: str
    function: str | None  # KEEP_RECORDING_FUNCTION (not set on the KeepRecording function itself)

    def request(self, dialog_id: str, *, marked: bool = False) -> None:
        self.ask(dialog_id, marked=marked)

    def ask(self, dialog_id: str, *, marked: bool = False) -> bool:
        """Whether the invoke was accepted. The dialog is first put in the recording-reconciliation index
        (`marked`: the caller's own write did it), so a request that is lost — the invoke failing, or the process
        dying — is asked again by the reconciler.

        Never raises: the caller's own work (a stored webhook, a workflow step) succeeded either way.
        """
        if not marked:
            try:
                DialogRepository(self.dialogs_table).mark_recording_requested(dialog_id)
            except (ClientError, BotoCoreError, DependencyUnavailableError) as exc:
                logger.error("recording request not marked", dialog_id=dialog_id, error=str(exc))
        if not self.function:
            logger.warning("recording not requested: KEEP_RECORDING_FUNCTION is not configured", dialog_id=dialog_id)
            return False
        payload = KeepRecordingRequest(dialog_id=dialog_id).model_dump_json()
        try:
            client("lambda").invoke(FunctionName=self.function, InvocationType="Event", Payload=payload.encode())
        except (ClientError, BotoCoreError) as exc:
            logger.error("recording request failed", dialog_id=dialog_id, error=str(exc))
            metrics.add_metric(name="RecordingRequestFailed", unit=MetricUnit.Count, value=1)
            return False
        return True


def request_keep_recording(dialog_id: str, *, marked: bool = False) -> bool:
    """`LambdaRecordingRequests.ask` from the environment (KeepRecordingRequests' request). Never raises."""
    settings = load_settings(RecordingRequestSettings)
    return LambdaRecordingRequests(settings.dialogs_table, settings.keep_recording_function).ask(dialog_id,
                                                                                                marked=marked)


class KeepRecordingRequests:
    """The `RecordingRequests` adapter Enrich and Ingest build once per sandbox: `request_keep_recording`, which
    reads KEEP_RECORDING_FUNCTION at each request."""

    def request(self, dialog_id: str, *, marked: bool = False) -> None:
        request_keep_recording(dialog_id, marked=marked)
