"""Transcription eligibility (docs/workflow.md): whether a call is transcribed, decided from the state and the dialog.

Transcription starts only after an operator is assigned, and only with `auto_transcription` and a recording. Pure:
no AWS, no clock; `services/transcription.py` acts on the answer (the job, the task token), and
`tests/unit/test_transcription_decision.py` proves every row.
"""

from __future__ import annotations

from typing import Any

from callhook.models.channel import EnrichErrorAction
from callhook.models.dialog import (
    Dialog,
    Reason,
    Recording,
    RecordingStatus,
    Transcription,
    TranscriptionStatus,
)
from callhook.models.reasons import TranscriptionReason
from callhook.models.workflow import WorkflowState

# Skips that leave every other condition met: a recording that is kept later may still start the job.
LATE_START_AFTER = (TranscriptionReason.WAITING_FOR_RECORDING.value, TranscriptionReason.NO_RECORDING.value,
                    TranscriptionReason.RECORDING_NOT_KEPT.value)


def transcription_decision(state: WorkflowState, dialog: Dialog) -> Transcription | None:
    """The `not_requested`/`skipped` transcription with its reason, or None when the call is transcribed (its
    recording is kept, or still being copied). The first condition that is not met is the one named."""
    if not state.auto_transcription:
        return _skip(TranscriptionReason.AUTO_TRANSCRIPTION_OFF, "auto_transcription is off for this channel",
                     status=TranscriptionStatus.NOT_REQUESTED)
    if state.error is not None and state.enrich_error_action == EnrichErrorAction.DO_NOT_ASSIGN:
        return _skip(TranscriptionReason.ENRICHMENT_FAILED_DO_NOT_ASSIGN,
                     "enrichment failed and enrich_error_action is do_not_assign: no operator, no transcription")
    if state.operator_id is None:
        return _skip(TranscriptionReason.NO_OPERATOR,
                     "no operator was assigned; transcription starts only after assignment")
    if not dialog.telephony.recording_url:
        return _skip(TranscriptionReason.NO_RECORDING, "the call has no recording_url (a later event that brings "
                                                       "one starts transcription then)")
    if dialog.recording is not None and dialog.recording.status == RecordingStatus.FAILED:
        return recording_not_kept(dialog.recording)
    return None


def recording_not_kept(recording: Recording) -> Transcription:
    why = recording.reason
    return _skip(TranscriptionReason.RECORDING_NOT_KEPT,
                 f"the recording could not be kept: {why.message if why else 'unknown'}",
                 recording_reason=why.code if why else None)


def _skip(code: TranscriptionReason, message: str, *, status: TranscriptionStatus = TranscriptionStatus.SKIPPED,
          **extra: Any) -> Transcription:
    return Transcription(status=status, reason=Reason(code=code.value, message=message, **extra))
