"""Transcription's races on in-memory fakes (services/transcription.py over services/transcription_job.py and
services/transcript.py): the step, the recording copy and the completion, in the orders AWS may deliver them.

The fakes keep the adapters' promises (tests/unit/test_ports_contract.py); each test runs in milliseconds.
"""

from __future__ import annotations

import json

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
    WorkflowStatus,
)
from callhook.models.reasons import TranscriptionReason as Why
from callhook.models.transcription import JobStateChangeEvent, TranscribeTask, TranscriptionWaitEnded
from callhook.models.workflow import StepError, WorkflowState
from callhook.services.transcription import (
    TranscriptionPorts,
    complete_transcription,
    continue_after_recording,
    transcribe,
)
from callhook.settings import TranscriptionSettings
from tests.support.fakes import (
    FakeChannels,
    FakeDialogs,
    FakeTaskTokens,
    FakeTranscribe,
    FakeTranscriptionStore,
    FakeTranscripts,
)

SETTINGS = TranscriptionSettings.model_validate({
    "CHANNELS_TABLE": "c", "DIALOGS_TABLE": "d", "EVENTS_TABLE": "e", "OPERATORS_TABLE": "o", "TOPICS_TABLE": "t",
    "ACTIONS_TABLE": "a", "SETTINGS_TABLE": "s", "RECORDINGS_BUCKET": "rec", "TRANSCRIBE_JOB_PREFIX": "stack-"})
JOB = "stack-d-1"
TRANSCRIPT_KEY = "transcripts/ch/d-1.json"
KEPT = Recording(status=RecordingStatus.KEPT, s3_key="recordings/ch/d-1.wav", media_format="wav",
                 sample_rate_hz=8000, duration_s=90.0)
TRANSCRIPT = json.dumps({"results": {"language_code": "en-US", "transcripts": [{"transcript": "Hello there."}],
                                     "items": [
    {"type": "pronunciation", "start_time": "0.1", "end_time": "0.4", "speaker_label": "spk_0",
     "alternatives": [{"content": "Hello"}]},
    {"type": "pronunciation", "start_time": "0.5", "end_time": "0.9", "speaker_label": "spk_1",
     "alternatives": [{"content": "there"}]},
    {"type": "punctuation", "alternatives": [{"content": "."}]}]}}).encode()


class World:
    """One dialog and every port transcription uses, as fakes."""

    def __init__(self, recording: Recording | None = KEPT, url: str | None = "https://pbx.example/r.wav",
                 *, transcripts: dict[str, bytes] | None = None, refuse: str | None = None) -> None:
        self.dialogs = FakeDialogs(Dialog(
            dialog_id="d-1", channel_id="ch", call_id="c", created_at="2026-12-01T00:00:00Z",
            telephony=Telephony(call_id="c", recording_url=url), enrichment=Enrichment(status=EnrichmentStatus.OK),
            recording=recording))
        self.jobs = FakeTranscribe(refuse=refuse)
        self.transcripts = FakeTranscripts(**(transcripts or {}))
        self.tokens = FakeTaskTokens("tok-1", "tok-2")
        self.io = TranscriptionPorts(dialogs=self.dialogs, store=FakeTranscriptionStore(self.dialogs),
                                     channels=FakeChannels(), jobs=self.jobs, transcripts=self.transcripts,
                                     tokens=self.tokens)

    def step(self, token: str = "tok-1", **state: object) -> str:
        task = TranscribeTask(state=WorkflowState.model_validate({
            "dialog_id": "d-1", "channel_id": "ch", "call_id": "c", "auto_transcription": True, "operator_id": 17,
            **state}), task_token=token)
        return transcribe(task, self.io, SETTINGS).status.value

    def event(self, status: str = "COMPLETED", job: str = JOB) -> str | None:
        message = JobStateChangeEvent.model_validate({"source": "aws.transcribe",
                                                      "detail-type": "Transcribe Job State Change", "detail": {
                                                          "TranscriptionJobName": job,
                                                          "TranscriptionJobStatus": status}})
        outcome = complete_transcription(message, self.io, SETTINGS)
        return None if outcome is None else outcome.status.value

    def wait_ended(self) -> str | None:
        message = TranscriptionWaitEnded(dialog_id="d-1", error=StepError(Error="States.Timeout"))
        outcome = complete_transcription(message, self.io, SETTINGS)
        return None if outcome is None else outcome.status.value

    def keep(self, recording: Recording) -> None:
        """What KeepRecording does after a copy: the outcome stored, then transcription continues."""
        self.io.store.set_recording("d-1", recording)
        continue_after_recording("d-1", self.io, SETTINGS)

    @property
    def dialog(self) -> Dialog:
        return self.dialogs.dialog("d-1")

    def answered(self) -> list[tuple[str, str, str | None]]:
        return [(token, out["status"], out.get("reason")) for token, out in self.tokens.answers]


def test_a_kept_recording_starts_one_job_and_leaves_the_token_to_the_completion() -> None:
    world = World()
    # When
    assert world.step() == "started"
    # Then the job reads the kept recording, the waiting state hears a heartbeat, and nobody answered yet
    [request] = world.jobs.started
    assert request["TranscriptionJobName"] == JOB
    assert request["Media"] == {"MediaFileUri": "s3://rec/recordings/ch/d-1.wav"}
    assert request["OutputKey"] == TRANSCRIPT_KEY and request["MediaFormat"] == "wav"
    assert world.tokens.heartbeats == ["tok-1"] and world.tokens.answers == []
    assert world.dialog.transcription.status == TranscriptionStatus.STARTED
    assert world.dialog.transcription.job_name == JOB


def test_not_eligible_records_why_and_answers_the_token_itself() -> None:
    world = World()
    # When
    assert world.step(auto_transcription=False) == "not_requested"
    # Then
    assert world.jobs.started == []
    assert world.answered() == [("tok-1", "not_requested", Why.AUTO_TRANSCRIPTION_OFF.value)]
    assert world.dialog.workflow.status == WorkflowStatus.COMPLETED


def test_a_retried_step_while_the_job_runs_starts_nothing_new_and_hands_the_new_token_over() -> None:
    world = World()
    world.step("tok-1")
    # When Step Functions retries the step (its first answer lost) with a new token
    assert world.step("tok-2") == "started"
    world.jobs.end(JOB)
    world.transcripts.objects[TRANSCRIPT_KEY] = TRANSCRIPT
    assert world.event() == "completed"
    # Then one job, and the completion answers the token that waits now
    assert len(world.jobs.started) == 1
    assert world.answered() == [("tok-2", "completed", None)]


def test_a_job_that_finished_before_the_retry_ends_the_wait_with_its_transcript() -> None:
    world = World(transcripts={TRANSCRIPT_KEY: TRANSCRIPT})
    world.step("tok-1")
    world.jobs.end(JOB)  # done, and its event not delivered (yet)
    # When the step is retried: StartTranscriptionJob answers that the job exists
    assert world.step("tok-2") == "completed"
    # Then Transcribe's record decides: the transcript is stored, with its feed entry, and the new token answered
    done = world.dialog
    assert done.transcription.text == "Hello there." and done.transcription.language == "en-US"
    assert [(t["speaker"], t["text"]) for t in done.transcription.turns] == [("spk_0", "Hello"), ("spk_1", "there.")]
    assert [e.id for e in done.feed] == [f"transcript-{JOB}"]
    assert world.answered() == [("tok-2", "completed", None)]
    # And the event arriving afterwards changes nothing
    assert world.event() == "completed"
    assert len(world.answered()) == 1 and len(world.dialog.feed) == 1


@pytest.mark.parametrize("body", [None, b"<html>not json</html>", b'{"no": "results"}'],
                         ids=["missing", "not-json", "not-transcribe-output"])
def test_an_unreadable_transcript_fails_the_transcription_and_says_where(body: bytes | None) -> None:
    world = World(transcripts={} if body is None else {TRANSCRIPT_KEY: body})
    world.step()
    world.jobs.end(JOB)
    # When
    assert world.event() == "failed"
    # Then
    reason = world.dialog.transcription.reason
    assert reason is not None and reason.code == Why.TRANSCRIPT_UNREADABLE.value
    assert TRANSCRIPT_KEY in reason.message
    assert world.answered() == [("tok-1", "failed", Why.TRANSCRIPT_UNREADABLE.value)]


def test_a_job_transcribe_reports_failed_keeps_transcribes_reason() -> None:
    world = World()
    world.step()
    world.jobs.end(JOB, "FAILED", failure_reason="The media format provided does not match")
    # When
    assert world.event("FAILED") == "failed"
    # Then
    reason = world.dialog.transcription.reason
    assert reason is not None and reason.code == Why.JOB_FAILED.value
    assert reason.message == "The media format provided does not match"


def test_a_refused_job_fails_with_transcribes_message_and_answers_the_token() -> None:
    world = World(refuse="Transcribe refused the job (BadRequestException): bad language")
    # When
    assert world.step() == "failed"
    # Then
    reason = world.dialog.transcription.reason
    assert reason is not None and reason.code == Why.TRANSCRIBE_REJECTED.value
    assert "bad language" in reason.message
    assert world.answered() == [("tok-1", "failed", Why.TRANSCRIBE_REJECTED.value)]


def test_a_transcript_after_the_timeout_replaces_the_timeout_without_answering_again() -> None:
    world = World(transcripts={TRANSCRIPT_KEY: TRANSCRIPT})
    world.step()
    # When the wait times out while the job runs
    assert world.wait_ended() == "failed"
    timed_out = world.dialog
    assert timed_out.transcription.reason is not None and timed_out.transcription.reason.code == Why.TIMEOUT.value
    assert timed_out.workflow.status == WorkflowStatus.COMPLETED
    # And the job completes afterwards
    world.jobs.end(JOB)
    assert world.event() == "completed"
    # Then the transcript lands; nobody answered the dead token
    assert world.dialog.transcription.status == TranscriptionStatus.COMPLETED
    assert world.dialog.transcription.text == "Hello there."
    assert world.answered() == []


def test_a_wait_that_ends_after_the_job_finished_takes_the_jobs_outcome() -> None:
    world = World(transcripts={TRANSCRIPT_KEY: TRANSCRIPT})
    world.step()
    world.jobs.end(JOB)  # the event was lost
    # When
    assert world.wait_ended() == "completed"
    # Then
    assert world.dialog.transcription.text == "Hello there." and world.answered() == []


def test_the_step_waits_for_a_recording_being_copied_then_the_copy_starts_the_job() -> None:
    world = World(Recording(status=RecordingStatus.PENDING))
    # When
    assert world.step() == "started"
    # Then it waits, token parked, no job yet
    reason = world.dialog.transcription.reason
    assert reason is not None and reason.code == Why.WAITING_FOR_RECORDING.value
    assert world.jobs.started == []
    # When the copy succeeds
    world.keep(KEPT)
    # Then the job starts and the parked token hears it
    assert [r["TranscriptionJobName"] for r in world.jobs.started] == [JOB]
    assert world.tokens.heartbeats == ["tok-1"]


def test_a_failed_copy_ends_the_wait_with_recording_not_kept() -> None:
    world = World(Recording(status=RecordingStatus.PENDING))
    world.step()
    # When
    world.keep(Recording(status=RecordingStatus.FAILED, reason=Reason(code="recording_expired", message="404")))
    # Then
    assert world.jobs.started == []
    assert world.answered() == [("tok-1", "skipped", Why.RECORDING_NOT_KEPT.value)]
    assert world.dialog.transcription.reason is not None
    assert world.dialog.transcription.reason.recording_reason == "recording_expired"  # type: ignore[attr-defined]


def test_a_wait_for_a_copy_that_never_ends_times_out_without_a_job() -> None:
    world = World(Recording(status=RecordingStatus.PENDING))
    world.step()
    # When
    assert world.wait_ended() == "failed"
    # Then, and a copy that ends afterwards starts nothing
    assert "still being copied" in (world.dialog.transcription.reason.message if world.dialog.transcription.reason
                                     else "")
    world.keep(KEPT)
    assert world.jobs.started == []


def test_a_recording_that_arrives_after_the_skip_starts_the_job_without_a_token() -> None:
    world = World(None, url=None)
    assert world.step() == "skipped"
    assert world.answered() == [("tok-1", "skipped", Why.NO_RECORDING.value)]
    # When the recording arrives later (an update event) and is kept
    world.dialogs.fill_telephony("d-1", {"recording_url": "https://pbx.example/r.wav"})
    world.keep(KEPT)
    # Then the job starts, and no token is answered twice
    assert [r["TranscriptionJobName"] for r in world.jobs.started] == [JOB]
    assert len(world.answered()) == 1 and world.tokens.heartbeats == []


def test_an_event_of_another_stacks_job_is_not_ours() -> None:
    world = World()
    world.step()
    assert world.event(job="other-stack-d-1") is None
    assert world.event(job="stack-d-unknown") is None
    assert world.dialog.transcription.status == TranscriptionStatus.STARTED
