"""The Transcribe step: whether this call is transcribed (CONTRACT §4) and, when it is, starting the job."""

from __future__ import annotations

from callhook.models.channel import EnrichErrorAction
from callhook.models.dialog import (
    Dialog,
    Reason,
    Transcription,
    TranscriptionStatus,
    Workflow,
    WorkflowStatus,
)
from callhook.models.workflow import WorkflowState
from callhook.observability import logger
from callhook.repositories.dialogs import DialogRepository, utc_now
from callhook.services.steps import load_dialog
from callhook.settings import CommonSettings


def transcription_decision(state: WorkflowState, dialog: Dialog) -> Transcription:
    """Transcription starts only after an operator is assigned, and only with auto_transcription and a recording."""
    if not state.auto_transcription:
        return Transcription(status=TranscriptionStatus.NOT_REQUESTED, reason=Reason(
            code="auto_transcription_off", message="auto_transcription is off for this channel"))
    if state.error is not None and state.enrich_error_action == EnrichErrorAction.DO_NOT_ASSIGN:
        return Transcription(status=TranscriptionStatus.SKIPPED, reason=Reason(
            code="enrichment_failed_do_not_assign",
            message="enrichment failed and enrich_error_action is do_not_assign: no operator, no transcription"))
    if state.operator_id is None:
        return Transcription(status=TranscriptionStatus.SKIPPED, reason=Reason(
            code="no_operator", message="no operator was assigned; transcription starts only after assignment"))
    if not dialog.telephony.recording_url:
        return Transcription(status=TranscriptionStatus.SKIPPED, reason=Reason(
            code="no_recording", message="the call has no recording_url"))
    return Transcription(status=TranscriptionStatus.SKIPPED, reason=Reason(
        code="recording_not_kept", message="the recording has not been copied to the recordings bucket"))


def transcribe(state: WorkflowState, settings: CommonSettings) -> WorkflowState:
    dialogs = DialogRepository(settings.dialogs_table)
    dialog = load_dialog(dialogs, state.dialog_id)
    decision = transcription_decision(state, dialog)
    finished = Workflow(status=WorkflowStatus.COMPLETED, started_at=dialog.workflow.started_at, finished_at=utc_now())
    dialogs.set_sections(state.dialog_id, {"transcription": decision.model_dump(mode="json"),
                                           "workflow": finished.model_dump(mode="json")})
    logger.info("transcription decided", status=decision.status.value,
                reason=decision.reason.code if decision.reason else None)
    return state
