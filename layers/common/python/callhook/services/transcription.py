"""Transcription (docs/workflow.md): the three actors that move a call's transcription forward, and their races.

The workflow's Transcribe state waits on a task token (`lambda:invoke.waitForTaskToken`) instead of polling:

* the Transcribe step (`transcribe`) decides (`services/transcription_decision.py`). Not eligible: it records why
  and answers the token itself. Eligible with a kept recording: it claims and starts the job
  (`services/transcription_job.py`), leaving the token on the dialog. Eligible while the recording is still being
  copied: it parks the token; the copy (`continue_after_recording`) starts the job or, if the copy failed, answers
  the token;
* Transcribe's "Transcribe Job State Change" event reaches `complete_transcription` through EventBridge; it stores
  the transcript (`services/transcript.py`) or the failure and answers the token it finds on the dialog;
* when the wait times out, the same function is told so: it asks Transcribe about the job once (an event is
  best-effort) and records the outcome, `failed`/`timeout` when the job is still running.

A recording that arrives after the workflow decided (`skipped`, no recording) starts the job then, without a token.
The job name is deterministic per dialog, so whatever the interleaving, a call is transcribed once.

Over `callhook.ports` (the `TranscriptionPorts` below); the functions' `app.py` build the adapters,
`tests/unit/test_transcription_flow.py` runs the races on fakes.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools.metrics import MetricUnit

from callhook.clock import utc_now
from callhook.errors import ChannelConfigError
from callhook.models.channel import Channel, TranscriptionConfig
from callhook.models.dialog import (
    Dialog,
    FeedEntry,
    Reason,
    RecordingStatus,
    Transcription,
    TranscriptionStatus,
)
from callhook.models.reasons import TranscriptionReason as Why  # the reason codes this step writes
from callhook.models.transcription import (
    JobStateChangeEvent,
    TranscribeTask,
    TranscriptionOutcome,
    TranscriptionWaitEnded,
)
from callhook.observability import logger, metrics, tracer
from callhook.ports import Channels, Dialogs, TaskTokens, TranscribeJobs, TranscriptionStore, Transcripts
from callhook.services.steps import load_dialog
from callhook.services.transcript import audio_minutes, feed_text
from callhook.services.transcription_decision import (
    LATE_START_AFTER,
    recording_not_kept,
    transcription_decision,
)
from callhook.services.transcription_job import (
    answer,
    complete_workflow,
    completed_workflow,
    job_name_for,
    job_outcome,
    job_request,
    refused,
    start_job,
)
from callhook.settings import TranscriptionSettings


@dataclass(frozen=True)
class TranscriptionPorts:
    """What transcription needs from the world; built once per sandbox by the functions' `app.py`."""

    dialogs: Dialogs
    store: TranscriptionStore
    channels: Channels
    jobs: TranscribeJobs
    transcripts: Transcripts
    tokens: TaskTokens


# ---------------------------------------------------------------------------------------------------- starting


@tracer.capture_method(capture_response=False)
def transcribe(task: TranscribeTask, io: TranscriptionPorts, settings: TranscriptionSettings) -> TranscriptionOutcome:
    """The Transcribe step. Its return value is not the state's result: the task token's answer is.

    Raises:
        DependencyUnavailableError: DynamoDB or Transcribe throttled; Step Functions retries with a new token.
        DialogNotFoundError: the execution's dialog is not stored.
    """
    state, token = task.state, task.task_token
    dialog = load_dialog(io.dialogs, state.dialog_id)
    decision = transcription_decision(state, dialog)
    ends = completed_workflow(dialog) if decision is not None and token is not None else None
    if decision is not None and io.store.record_decision(dialog.dialog_id, decision, workflow=ends):
        logger.info("transcription decided", status=decision.status.value, reason=_code(decision))
        return answer(io.dialogs, io.tokens, dialog, token, decision, workflow_recorded=ends is not None)
    if dialog.recording is None or dialog.recording.status == RecordingStatus.PENDING:
        waiting = Transcription(status=TranscriptionStatus.STARTED, started_at=utc_now(), reason=Reason(
            code=Why.WAITING_FOR_RECORDING.value, message="the recording is being copied; the job starts then"))
        io.store.park(dialog.dialog_id, waiting, token)
        dialog = load_dialog(io.dialogs, state.dialog_id)  # written first, read second: the copy cannot slip past
        recording = dialog.recording
        if recording is None or recording.status == RecordingStatus.PENDING:
            logger.info("transcription waits for the recording")
            return TranscriptionOutcome.of(waiting)
        if recording.status == RecordingStatus.FAILED:
            skipped = recording_not_kept(recording)
            ended, parked = io.store.resolve_waiting(dialog.dialog_id, skipped, Why.WAITING_FOR_RECORDING.value)
            return answer(io.dialogs, io.tokens, dialog, parked, skipped) if ended else TranscriptionOutcome.of(
                skipped)
    outcome = _start(io, dialog, settings, task_token=token)
    assert outcome is not None, "only a start `only_after` earlier decisions can leave the outcome to another"
    return outcome


def continue_after_recording(dialog_id: str, io: TranscriptionPorts,
                             settings: TranscriptionSettings) -> TranscriptionOutcome | None:
    """After a copy ended: start the job a decision was waiting for, or end that wait when the copy failed.

    Only transcriptions that waited for the recording, or were skipped for want of it, are picked up; every other
    condition was checked when the workflow decided. Idempotent (a repeated copy request changes nothing).
    """
    dialog = load_dialog(io.dialogs, dialog_id)
    recording, current = dialog.recording, dialog.transcription
    if recording is None or recording.status == RecordingStatus.PENDING:
        return None
    if recording.status == RecordingStatus.FAILED:
        skipped = recording_not_kept(recording)
        ended, token = io.store.resolve_waiting(dialog_id, skipped, Why.WAITING_FOR_RECORDING.value)
        return answer(io.dialogs, io.tokens, dialog, token, skipped) if ended else None
    if current.status == TranscriptionStatus.STARTED and current.job_name:
        return _start(io, dialog, settings, task_token=None)  # claimed earlier: make sure it runs
    if _code(current) not in LATE_START_AFTER:
        return None
    return _start(io, dialog, settings, task_token=None, only_after=LATE_START_AFTER)


def _start(io: TranscriptionPorts, dialog: Dialog, settings: TranscriptionSettings, *, task_token: str | None,
           only_after: tuple[str, ...] = ()) -> TranscriptionOutcome | None:
    channel = _channel(io.channels, dialog.channel_id)
    config = channel.advanced_config.transcription if channel else TranscriptionConfig()
    started = Transcription(status=TranscriptionStatus.STARTED, job_name=job_name_for(dialog, settings),
                            language=config.language, started_at=utc_now(), redaction=config.redaction,
                            roles=dict(config.channel_roles))
    claimed, token = io.store.claim(dialog.dialog_id, started, task_token=task_token, only_after=only_after)
    if not claimed:
        if only_after:
            return None  # someone else claimed it; they start it
        if task_token is not None and not io.store.attach_token(dialog.dialog_id, task_token):
            ended = load_dialog(io.dialogs, dialog.dialog_id).transcription  # it ended meanwhile: answer with that
            return answer(io.dialogs, io.tokens, dialog, task_token, ended)
        started = load_dialog(io.dialogs, dialog.dialog_id).transcription
        token = task_token
    name = started.job_name or job_name_for(dialog, settings)
    result = start_job(io.jobs, io.tokens, job_request(dialog, channel, name, settings), token)
    if result.outcome == "exists":  # ours already: still running (its event will come), or over (take its outcome)
        final = job_outcome(io.jobs, io.transcripts, dialog, name)
        return TranscriptionOutcome.of(started) if final is None else _finish(io, dialog.dialog_id, final)
    if result.outcome == "refused":
        return _finish(io, dialog.dialog_id, refused(started, name, result.message or "Transcribe refused the job"))
    return TranscriptionOutcome.of(started)


def _channel(channels: Channels, channel_id: str) -> Channel | None:
    """The channel's transcription settings; a channel item broken since the call came in means the defaults."""
    try:
        return channels.get(channel_id)
    except ChannelConfigError as exc:
        logger.warning("channel invalid: transcription uses the default settings", error=str(exc))
        return None


# ---------------------------------------------------------------------------------------------------- completing


@tracer.capture_method(capture_response=False)
def complete_transcription(message: JobStateChangeEvent | TranscriptionWaitEnded, io: TranscriptionPorts,
                           settings: TranscriptionSettings) -> TranscriptionOutcome | None:
    """Transcribe's job-state event, or the workflow's notice that it stopped waiting.

    Returns None for an event that is not ours (another stack's job, a deleted dialog).

    Raises:
        DependencyUnavailableError: DynamoDB, S3 or Transcribe throttled; EventBridge's delivery retries.
    """
    if isinstance(message, TranscriptionWaitEnded):
        return _wait_ended(io, load_dialog(io.dialogs, message.dialog_id), message)
    name = message.detail.job_name
    prefix = settings.job_prefix
    dialog = io.dialogs.get(name.removeprefix(prefix)) if name.startswith(prefix) else None
    if dialog is None:
        logger.info("transcription event ignored: not a job of this stack", job_name=name)
        return None
    final = job_outcome(io.jobs, io.transcripts, dialog, name, event_reason=message.detail.failure_reason)
    if final is None:
        logger.info("transcription event ignored: job not finished", job_name=name, status=message.detail.status)
        return None
    return _finish(io, dialog.dialog_id, final, over_timeout=True)


def _wait_ended(io: TranscriptionPorts, dialog: Dialog, message: TranscriptionWaitEnded) -> TranscriptionOutcome:
    current = dialog.transcription
    if current.status != TranscriptionStatus.STARTED:  # ended already, only the answer was lost
        complete_workflow(io.dialogs, dialog)
        return TranscriptionOutcome.of(current)
    timeout = Transcription(
        status=TranscriptionStatus.FAILED, job_name=current.job_name, language=current.language,
        started_at=current.started_at, finished_at=utc_now(),
        reason=Reason(code=Why.TIMEOUT.value, error=message.error.error, message=(
            "the workflow stopped waiting for the transcript (" + message.error.error + "): " +
            ("the recording was still being copied" if not current.job_name else "the job had not finished"))))
    if not current.job_name:
        io.store.resolve_waiting(dialog.dialog_id, timeout, Why.WAITING_FOR_RECORDING.value)
        complete_workflow(io.dialogs, dialog)
        return TranscriptionOutcome.of(timeout)
    # The job may be done and its event lost: Transcribe's record decides.
    final = job_outcome(io.jobs, io.transcripts, dialog, current.job_name) or timeout
    outcome = _finish(io, dialog.dialog_id, final, answer_token=False)  # that token is no longer waiting
    complete_workflow(io.dialogs, dialog)
    logger.warning("transcription wait ended", error=message.error.error, status=outcome.status.value)
    return outcome


def _finish(io: TranscriptionPorts, dialog_id: str, final: Transcription, *, over_timeout: bool = False,
            answer_token: bool = True) -> TranscriptionOutcome:
    """Store the ending (with its feed entry first: a retry after a crash must not lose it), answer the token."""
    if final.status == TranscriptionStatus.COMPLETED and final.job_name:
        io.dialogs.add_feed_entry(dialog_id, FeedEntry(
            id=f"transcript-{final.job_name}", at=final.finished_at or utc_now(), kind="transcript",
            code="transcript", text=feed_text(final)))
    applied, token, before = io.store.finish(dialog_id, final, over_timeout=over_timeout)
    if not applied:
        logger.info("transcription already ended", job_name=final.job_name)
        return TranscriptionOutcome.of(final)
    metrics.add_metric(name="TranscriptReady" if final.status == TranscriptionStatus.COMPLETED
                       else "TranscriptionFailed", unit=MetricUnit.Count, value=1)
    if final.status == TranscriptionStatus.COMPLETED and (minutes := audio_minutes(before, final)) is not None:
        metrics.add_metric(name="TranscriptionMinutes", unit=MetricUnit.Count, value=minutes)
    logger.info("transcription ended", status=final.status.value, reason=_code(final), answered=token is not None)
    if answer_token and token is not None and before is not None:
        answer(io.dialogs, io.tokens, Dialog.model_validate(before), token, final)
    return TranscriptionOutcome.of(final)


def _code(transcription: Transcription) -> str | None:
    return transcription.reason.code if transcription.reason else None
