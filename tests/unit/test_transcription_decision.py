"""Transcription eligibility (docs/workflow.md: "transcription starts only after an operator is assigned, and only with
auto_transcription and a recording"), every row, pure: no AWS, no fakes needed."""

from __future__ import annotations

import pytest

from callhook.models.call import Telephony
from callhook.models.dialog import (
    Dialog,
    Enrichment,
    EnrichmentStatus,
    Reason,
    Recording,
    RecordingStatus,
    TranscriptionStatus,
)
from callhook.models.reasons import TranscriptionReason
from callhook.models.workflow import StepError, WorkflowState
from callhook.services.transcription_decision import LATE_START_AFTER, transcription_decision

URL = "https://pbx.example.com/r.wav"
KEPT = Recording(status=RecordingStatus.KEPT, s3_key="recordings/ch/d-1.wav")
FAILED = Recording(status=RecordingStatus.FAILED, reason=Reason(code="recording_expired", message="404"))


def dialog(recording: Recording | None = KEPT, url: str | None = URL) -> Dialog:
    return Dialog(dialog_id="d-1", channel_id="ch", call_id="c", created_at="2026-12-01T00:00:00Z",
                  telephony=Telephony(call_id="c", recording_url=url),
                  enrichment=Enrichment(status=EnrichmentStatus.OK), recording=recording)


def state(**fields: object) -> WorkflowState:
    return WorkflowState.model_validate({"dialog_id": "d-1", "channel_id": "ch", "call_id": "c",
                                         "auto_transcription": True, "operator_id": 17, **fields})


def test_every_condition_met_transcribes() -> None:
    assert transcription_decision(state(), dialog()) is None


@pytest.mark.parametrize("recording", [None, Recording(status=RecordingStatus.PENDING)], ids=["unreported", "pending"])
def test_a_recording_still_being_copied_is_transcribed_when_kept(recording: Recording | None) -> None:
    assert transcription_decision(state(), dialog(recording)) is None


def test_auto_transcription_off_is_not_requested_whatever_else_holds() -> None:
    # When
    decided = transcription_decision(state(auto_transcription=False, operator_id=None), dialog(None, url=None))
    # Then the first condition is the one named, and the status is not_requested, not skipped
    assert decided is not None and decided.status == TranscriptionStatus.NOT_REQUESTED
    assert decided.reason is not None and decided.reason.code == TranscriptionReason.AUTO_TRANSCRIPTION_OFF


def test_enrichment_failed_with_do_not_assign_is_never_transcribed() -> None:
    decided = transcription_decision(state(operator_id=None, error=StepError(Error="ActionHTTPError")), dialog())
    assert decided is not None and decided.status == TranscriptionStatus.SKIPPED
    assert decided.reason is not None
    assert decided.reason.code == TranscriptionReason.ENRICHMENT_FAILED_DO_NOT_ASSIGN


def test_enrichment_failed_with_assign_admin_is_transcribed() -> None:
    admin = state(operator_id=1, enrich_error_action="assign_admin", error=StepError(Error="ActionHTTPError"))
    assert transcription_decision(admin, dialog()) is None


def test_no_operator_is_skipped_before_the_recording_is_looked_at() -> None:
    decided = transcription_decision(state(operator_id=None), dialog(None, url=None))
    assert decided is not None and decided.reason is not None
    assert decided.reason.code == TranscriptionReason.NO_OPERATOR


def test_operator_zero_is_an_operator() -> None:
    assert transcription_decision(state(operator_id=0), dialog()) is None


def test_no_recording_url_is_skipped_and_may_start_later() -> None:
    decided = transcription_decision(state(), dialog(None, url=None))
    assert decided is not None and decided.reason is not None
    assert decided.reason.code == TranscriptionReason.NO_RECORDING
    assert decided.reason.code in LATE_START_AFTER


def test_a_recording_that_could_not_be_kept_is_skipped_with_the_copys_reason() -> None:
    decided = transcription_decision(state(), dialog(FAILED))
    assert decided is not None and decided.reason is not None
    assert decided.reason.code == TranscriptionReason.RECORDING_NOT_KEPT
    assert decided.reason.model_extra["recording_reason"] == "recording_expired"
    assert "404" in decided.reason.message
