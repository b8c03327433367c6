"""Transcription (CONTRACT §4): whether a call is transcribed, starting the Amazon Transcribe job on its kept
recording, and storing the transcript when Transcribe says the job ended.

The workflow's Transcribe state waits on a task token (`lambda:invoke.waitForTaskToken`) instead of polling:

* the Transcribe step (`transcribe`) decides. Not eligible: it records why and answers the token itself. Eligible
  with a kept recording: it claims and starts the job, leaving the token on the dialog. Eligible while the
  recording is still being copied: it parks the token; the copy (`continue_after_recording`) starts the job or,
  if the copy failed, answers the token;
* Transcribe's "Transcribe Job State Change" event reaches `complete_transcription` through EventBridge; it stores
  the transcript (or the failure) and answers the token it finds on the dialog;
* when the wait times out, the same function is told so: it asks Transcribe about the job once (an event is
  best-effort) and records the outcome, `failed`/`timeout` when the job is still running.

A recording that arrives after the workflow decided (`skipped`, no recording) starts the job then, without a token.
The job name is deterministic per dialog, so whatever the interleaving, a call is transcribed once.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field

from callhook.aws import client
from callhook.errors import ChannelConfigError, DependencyUnavailableError
from callhook.models.channel import Channel, EnrichErrorAction, TranscriptionConfig
from callhook.models.dialog import (
    Dialog,
    FeedEntry,
    Reason,
    Recording,
    RecordingStatus,
    Transcription,
    TranscriptionStatus,
    Workflow,
    WorkflowStatus,
)
from callhook.models.transcription import (
    JobStateChangeEvent,
    TranscribeTask,
    TranscriptionOutcome,
    TranscriptionWaitEnded,
)
from callhook.models.workflow import WorkflowState
from callhook.observability import logger, metrics, tracer
from callhook.repositories.config import get_channel
from callhook.repositories.dialogs import DialogRepository, utc_now
from callhook.repositories.transcriptions import TranscriptionRepository
from callhook.services.steps import load_dialog
from callhook.settings import CommonSettings

# The dialog item is capped at 400 KB: text, turns and the feed entry each get at most this many characters; the
# full transcript stays in the bucket (`transcript_s3_key`).
MAX_TEXT_CHARS = 60_000
TRANSCRIBE_MEDIA_FORMATS = frozenset({"amr", "flac", "m4a", "mp3", "mp4", "ogg", "wav", "webm"})
_THROTTLING = frozenset({"LimitExceededException", "ThrottlingException", "InternalFailureException",
                         "ServiceUnavailableException", "TooManyRequestsException"})
_DEAD_TOKEN = frozenset({"InvalidToken", "TaskTimedOut", "TaskDoesNotExist"})


class Why(StrEnum):
    """Reason codes of `transcription.reason.code`."""

    AUTO_TRANSCRIPTION_OFF = "auto_transcription_off"
    ENRICHMENT_FAILED_DO_NOT_ASSIGN = "enrichment_failed_do_not_assign"
    NO_OPERATOR = "no_operator"
    NO_RECORDING = "no_recording"
    RECORDING_NOT_KEPT = "recording_not_kept"
    WAITING_FOR_RECORDING = "waiting_for_recording"
    TRANSCRIBE_REJECTED = "transcribe_rejected"
    JOB_FAILED = "transcribe_job_failed"
    TRANSCRIPT_UNREADABLE = "transcript_unreadable"
    TIMEOUT = "timeout"


# Skips that leave every other condition met: a recording that is kept later may still start the job.
LATE_START_AFTER = (Why.WAITING_FOR_RECORDING.value, Why.NO_RECORDING.value, Why.RECORDING_NOT_KEPT.value)


class TranscriptionSettings(CommonSettings):
    """Job names are `<prefix><dialog_id>`: the prefix (the stack name) keeps stacks in one account apart and is
    what the EventBridge rule matches."""

    job_prefix: str = Field(alias="TRANSCRIBE_JOB_PREFIX", min_length=1, pattern=r"^[0-9a-zA-Z._-]+$")


def job_name_for(dialog: Dialog, settings: TranscriptionSettings) -> str:
    return f"{settings.job_prefix}{dialog.dialog_id}"


def transcript_key_for(dialog: Dialog) -> str:
    return f"transcripts/{dialog.channel_id}/{dialog.dialog_id}.json"


# ---------------------------------------------------------------------------------------------------- deciding


def transcription_decision(state: WorkflowState, dialog: Dialog) -> Transcription | None:
    """Transcription starts only after an operator is assigned, and only with auto_transcription and a recording.

    Returns the `not_requested`/`skipped` transcription with its reason, or None when the call is transcribed
    (its recording is kept, or still being copied).
    """
    if not state.auto_transcription:
        return _skip(Why.AUTO_TRANSCRIPTION_OFF, "auto_transcription is off for this channel",
                     status=TranscriptionStatus.NOT_REQUESTED)
    if state.error is not None and state.enrich_error_action == EnrichErrorAction.DO_NOT_ASSIGN:
        return _skip(Why.ENRICHMENT_FAILED_DO_NOT_ASSIGN,
                     "enrichment failed and enrich_error_action is do_not_assign: no operator, no transcription")
    if state.operator_id is None:
        return _skip(Why.NO_OPERATOR, "no operator was assigned; transcription starts only after assignment")
    if not dialog.telephony.recording_url:
        return _skip(Why.NO_RECORDING, "the call has no recording_url (a later event that brings one starts "
                                       "transcription then)")
    if dialog.recording is not None and dialog.recording.status == RecordingStatus.FAILED:
        return recording_not_kept(dialog.recording)
    return None


def recording_not_kept(recording: Recording) -> Transcription:
    why = recording.reason
    return _skip(Why.RECORDING_NOT_KEPT, f"the recording could not be kept: {why.message if why else 'unknown'}",
                 recording_reason=why.code if why else None)


def _skip(code: Why, message: str, *, status: TranscriptionStatus = TranscriptionStatus.SKIPPED,
          **extra: Any) -> Transcription:
    return Transcription(status=status, reason=Reason(code=code.value, message=message, **extra))


# ---------------------------------------------------------------------------------------------------- starting


@tracer.capture_method(capture_response=False)
def transcribe(task: TranscribeTask, settings: TranscriptionSettings) -> TranscriptionOutcome:
    """The Transcribe step. Its return value is not the state's result: the task token's answer is.

    Raises:
        DependencyUnavailableError: DynamoDB or Transcribe throttled; Step Functions retries with a new token.
        DialogNotFoundError: the execution's dialog is not stored.
    """
    state, token = task.state, task.task_token
    dialogs, store = DialogRepository(settings.dialogs_table), TranscriptionRepository(settings.dialogs_table)
    dialog = load_dialog(dialogs, state.dialog_id)
    decision = transcription_decision(state, dialog)
    if decision is not None and store.record_decision(dialog.dialog_id, decision):
        logger.info("transcription decided", status=decision.status.value, reason=_code(decision))
        return _answer(dialogs, dialog, token, decision)
    if dialog.recording is None or dialog.recording.status == RecordingStatus.PENDING:
        waiting = Transcription(status=TranscriptionStatus.STARTED, started_at=utc_now(), reason=Reason(
            code=Why.WAITING_FOR_RECORDING.value, message="the recording is being copied; the job starts then"))
        store.park(dialog.dialog_id, waiting, token)
        dialog = load_dialog(dialogs, state.dialog_id)  # written first, read second: the copy cannot slip past
        recording = dialog.recording
        if recording is None or recording.status == RecordingStatus.PENDING:
            logger.info("transcription waits for the recording")
            return TranscriptionOutcome.of(waiting)
        if recording.status == RecordingStatus.FAILED:
            skipped = recording_not_kept(recording)
            ended, parked = store.resolve_waiting(dialog.dialog_id, skipped, Why.WAITING_FOR_RECORDING.value)
            return _answer(dialogs, dialog, parked, skipped) if ended else TranscriptionOutcome.of(skipped)
    outcome = _start(dialogs, store, dialog, settings, task_token=token)
    assert outcome is not None, "only a start `only_after` earlier decisions can leave the outcome to another"
    return outcome


def continue_after_recording(dialog_id: str, settings: TranscriptionSettings) -> TranscriptionOutcome | None:
    """After a copy ended: start the job a decision was waiting for, or end that wait when the copy failed.

    Only transcriptions that waited for the recording, or were skipped for want of it, are picked up; every other
    condition was checked when the workflow decided. Idempotent (a repeated copy request changes nothing).
    """
    dialogs, store = DialogRepository(settings.dialogs_table), TranscriptionRepository(settings.dialogs_table)
    dialog = load_dialog(dialogs, dialog_id)
    recording, current = dialog.recording, dialog.transcription
    if recording is None or recording.status == RecordingStatus.PENDING:
        return None
    if recording.status == RecordingStatus.FAILED:
        skipped = recording_not_kept(recording)
        ended, token = store.resolve_waiting(dialog_id, skipped, Why.WAITING_FOR_RECORDING.value)
        return _answer(dialogs, dialog, token, skipped) if ended else None
    if current.status == TranscriptionStatus.STARTED and current.job_name:
        return _start(dialogs, store, dialog, settings, task_token=None)  # claimed earlier: make sure it runs
    if _code(current) not in LATE_START_AFTER:
        return None
    return _start(dialogs, store, dialog, settings, task_token=None, only_after=LATE_START_AFTER)


def _start(dialogs: DialogRepository, store: TranscriptionRepository, dialog: Dialog,
           settings: TranscriptionSettings, *, task_token: str | None,
           only_after: tuple[str, ...] = ()) -> TranscriptionOutcome | None:
    channel = _channel(settings, dialog.channel_id)
    config = channel.advanced_config.transcription if channel else TranscriptionConfig()
    started = Transcription(status=TranscriptionStatus.STARTED, job_name=job_name_for(dialog, settings),
                            language=config.language, started_at=utc_now())
    claimed, token = store.claim(dialog.dialog_id, started, task_token=task_token, only_after=only_after)
    if not claimed:
        if only_after:
            return None  # someone else claimed it; they start it
        if task_token is not None and not store.attach_token(dialog.dialog_id, task_token):
            ended = load_dialog(dialogs, dialog.dialog_id).transcription  # it ended meanwhile: answer with that
            return _answer(dialogs, dialog, task_token, ended)
        started = load_dialog(dialogs, dialog.dialog_id).transcription
        token = task_token
    return _ensure_job(dialogs, store, dialog, channel, started, settings, token)


def _channel(settings: TranscriptionSettings, channel_id: str) -> Channel | None:
    """The channel's transcription settings; a channel item broken since the call came in means the defaults."""
    try:
        return get_channel(settings.channels_table, channel_id)
    except ChannelConfigError as exc:
        logger.warning("channel invalid: transcription uses the default settings", error=str(exc))
        return None


def _ensure_job(dialogs: DialogRepository, store: TranscriptionRepository, dialog: Dialog, channel: Channel | None,
                started: Transcription, settings: TranscriptionSettings,
                token: str | None) -> TranscriptionOutcome:
    """StartTranscriptionJob, idempotently: a job of that name that already exists is ours (and may be over)."""
    name = started.job_name or job_name_for(dialog, settings)
    request = job_request(dialog, channel, name, settings)
    try:
        client("transcribe").start_transcription_job(**request)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code == "ConflictException":
            return _settle_existing_job(dialogs, store, dialog, name, settings) or TranscriptionOutcome.of(started)
        if code in _THROTTLING:
            raise DependencyUnavailableError(f"StartTranscriptionJob: {code}") from exc
        failed = Transcription(status=TranscriptionStatus.FAILED, job_name=name, started_at=started.started_at,
                               finished_at=utc_now(), reason=Reason(
                                   code=Why.TRANSCRIBE_REJECTED.value, message=_error_message(exc)))
        logger.warning("transcription job refused", code=code)
        return _finish(dialogs, store, dialog.dialog_id, failed)
    except BotoCoreError as exc:
        raise DependencyUnavailableError(f"StartTranscriptionJob: {exc}") from exc
    logger.info("transcription job started", job_name=name, media_format=request.get("MediaFormat"))
    metrics.add_metric(name="TranscriptionStarted", unit=MetricUnit.Count, value=1)
    if token is not None:
        _heartbeat(token)
    return TranscriptionOutcome.of(started)


def job_request(dialog: Dialog, channel: Channel | None, job_name: str,
                settings: TranscriptionSettings) -> dict[str, Any]:
    """StartTranscriptionJob's arguments: the kept recording, the channel's language, speaker separation on."""
    recording = dialog.recording or Recording()
    config = channel.advanced_config.transcription if channel else TranscriptionConfig()
    request: dict[str, Any] = {
        "TranscriptionJobName": job_name,
        "Media": {"MediaFileUri": f"s3://{settings.recordings_bucket}/{recording.s3_key}"},
        "OutputBucketName": settings.recordings_bucket,
        "OutputKey": transcript_key_for(dialog),
    }
    if recording.media_format in TRANSCRIBE_MEDIA_FORMATS:
        request["MediaFormat"] = recording.media_format
    if recording.sample_rate_hz and 8000 <= recording.sample_rate_hz <= 48000:
        request["MediaSampleRateHertz"] = recording.sample_rate_hz
    if recording.channels == 2:  # two-channel calls: each party on its own channel (Transcribe: at most two)
        request["Settings"] = {"ChannelIdentification": True}
    else:
        request["Settings"] = {"ShowSpeakerLabels": True, "MaxSpeakerLabels": config.max_speakers}
    if config.language:
        request["LanguageCode"] = config.language
    elif len(config.languages) == 1:
        request["LanguageCode"] = config.languages[0]
    else:
        request["IdentifyLanguage"] = True
        request["LanguageOptions"] = list(config.languages)
    return request


# ---------------------------------------------------------------------------------------------------- completing


@tracer.capture_method(capture_response=False)
def complete_transcription(message: JobStateChangeEvent | TranscriptionWaitEnded,
                           settings: TranscriptionSettings) -> TranscriptionOutcome | None:
    """Transcribe's job-state event, or the workflow's notice that it stopped waiting.

    Returns None for an event that is not ours (another stack's job, a deleted dialog).

    Raises:
        DependencyUnavailableError: DynamoDB, S3 or Transcribe throttled; EventBridge's delivery retries.
    """
    dialogs, store = DialogRepository(settings.dialogs_table), TranscriptionRepository(settings.dialogs_table)
    if isinstance(message, TranscriptionWaitEnded):
        return _wait_ended(dialogs, store, load_dialog(dialogs, message.dialog_id), message, settings)
    name = message.detail.job_name
    dialog = dialogs.get(name.removeprefix(settings.job_prefix)) if name.startswith(settings.job_prefix) else None
    if dialog is None:
        logger.info("transcription event ignored: not a job of this stack", job_name=name)
        return None
    final = _outcome_of_job(dialog, name, settings, event_reason=message.detail.failure_reason)
    if final is None:
        logger.info("transcription event ignored: job not finished", job_name=name, status=message.detail.status)
        return None
    return _finish(dialogs, store, dialog.dialog_id, final, over_timeout=True)


def _wait_ended(dialogs: DialogRepository, store: TranscriptionRepository, dialog: Dialog,
                message: TranscriptionWaitEnded, settings: TranscriptionSettings) -> TranscriptionOutcome:
    current = dialog.transcription
    if current.status != TranscriptionStatus.STARTED:  # ended already, only the answer was lost
        _complete_workflow(dialogs, dialog)
        return TranscriptionOutcome.of(current)
    timeout = Transcription(
        status=TranscriptionStatus.FAILED, job_name=current.job_name, language=current.language,
        started_at=current.started_at, finished_at=utc_now(),
        reason=Reason(code=Why.TIMEOUT.value, error=message.error.error, message=(
            "the workflow stopped waiting for the transcript (" + message.error.error + "): " +
            ("the recording was still being copied" if not current.job_name else "the job had not finished"))))
    if not current.job_name:
        store.resolve_waiting(dialog.dialog_id, timeout, Why.WAITING_FOR_RECORDING.value)
        _complete_workflow(dialogs, dialog)
        return TranscriptionOutcome.of(timeout)
    final = _outcome_of_job(dialog, current.job_name, settings) or timeout  # the job may be done, event lost
    outcome = _finish(dialogs, store, dialog.dialog_id, final, answer=False)  # that token is no longer waiting
    _complete_workflow(dialogs, dialog)
    logger.warning("transcription wait ended", error=message.error.error, status=outcome.status.value)
    return outcome


def _outcome_of_job(dialog: Dialog, name: str, settings: TranscriptionSettings, *,
                    event_reason: str | None = None) -> Transcription | None:
    """The finished transcription from Transcribe's own record of the job; None while it still runs."""
    job = _get_job(name)
    status = job.get("TranscriptionJobStatus")
    base = {"job_name": name, "language": job.get("LanguageCode"), "started_at": dialog.transcription.started_at,
            "finished_at": utc_now()}
    if status == "FAILED":
        reason = job.get("FailureReason") or event_reason or "Transcribe reported the job FAILED without a reason"
        return Transcription(status=TranscriptionStatus.FAILED, **base,
                             reason=Reason(code=Why.JOB_FAILED.value, message=reason))
    if status != "COMPLETED":
        return None
    key = transcript_key_for(dialog)
    try:
        document = _read_json(settings.recordings_bucket, key)
        text, turns, language = parse_transcript(document)
    except (ValueError, KeyError, TypeError) as exc:
        return Transcription(status=TranscriptionStatus.FAILED, **base, reason=Reason(
            code=Why.TRANSCRIPT_UNREADABLE.value, message=f"the transcript at {key} could not be read: {exc}"))
    short_text, text_cut = _cap(text)
    kept_turns, turns_cut = _cap_turns(turns)
    return Transcription(status=TranscriptionStatus.COMPLETED, **{**base, "language": base["language"] or language},
                         text=short_text, turns=kept_turns, transcript_s3_key=key, truncated=text_cut or turns_cut)


def _audio_minutes(before: dict[str, Any] | None, final: Transcription) -> float | None:
    """What Transcribe bills: the recording's length (its container's, else the call's duration, else where the
    last recognised word ends)."""
    recording = (before or {}).get("recording") or {}
    telephony = (before or {}).get("telephony") or {}
    seconds = recording.get("duration_s") or telephony.get("duration") or max(
        (float(t.get("end_s") or 0) for t in final.turns), default=0.0)
    return round(float(seconds) / 60, 3) if seconds else None


def _finish(dialogs: DialogRepository, store: TranscriptionRepository, dialog_id: str, final: Transcription, *,
            over_timeout: bool = False, answer: bool = True) -> TranscriptionOutcome:
    """Store the ending (with its feed entry first: a retry after a crash must not lose it), answer the token."""
    if final.status == TranscriptionStatus.COMPLETED and final.job_name:
        dialogs.add_feed_entry(dialog_id, FeedEntry(
            id=f"transcript-{final.job_name}", at=final.finished_at or utc_now(), kind="transcript",
            code="transcript", text=final.text or "(no speech was recognised)"))
    applied, token, before = store.finish(dialog_id, final, over_timeout=over_timeout)
    if not applied:
        logger.info("transcription already ended", job_name=final.job_name)
        return TranscriptionOutcome.of(final)
    metrics.add_metric(name="TranscriptReady" if final.status == TranscriptionStatus.COMPLETED
                       else "TranscriptionFailed", unit=MetricUnit.Count, value=1)
    if final.status == TranscriptionStatus.COMPLETED and (minutes := _audio_minutes(before, final)) is not None:
        metrics.add_metric(name="TranscriptionMinutes", unit=MetricUnit.Count, value=minutes)
    logger.info("transcription ended", status=final.status.value, reason=_code(final), answered=token is not None)
    if answer and token is not None and before is not None:
        dialog = Dialog.model_validate(before)
        _complete_workflow(dialogs, dialog)
        _send_success(token, TranscriptionOutcome.of(final))
    return TranscriptionOutcome.of(final)


def _answer(dialogs: DialogRepository, dialog: Dialog, token: str | None,
            transcription: Transcription) -> TranscriptionOutcome:
    outcome = TranscriptionOutcome.of(transcription)
    if token is not None:
        _complete_workflow(dialogs, dialog)
        _send_success(token, outcome)
    return outcome


def _complete_workflow(dialogs: DialogRepository, dialog: Dialog) -> None:
    """The Transcribe state is the workflow's last step: the wait ending is the workflow ending."""
    done = Workflow(status=WorkflowStatus.COMPLETED, started_at=dialog.workflow.started_at, finished_at=utc_now())
    dialogs.set_sections(dialog.dialog_id, {"workflow": done.model_dump(mode="json")})


def _send_success(token: str, outcome: TranscriptionOutcome) -> None:
    try:
        client("stepfunctions").send_task_success(taskToken=token, output=outcome.model_dump_json())
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in _DEAD_TOKEN:  # the wait already ended (timed out): the dialog says what happened
            logger.warning("task token no longer waiting", code=code)
            return
        raise DependencyUnavailableError(f"SendTaskSuccess: {code}") from exc
    except BotoCoreError as exc:
        raise DependencyUnavailableError(f"SendTaskSuccess: {exc}") from exc


def _heartbeat(token: str) -> None:
    """A sign of life for HeartbeatSeconds: the job runs now. Best effort; the wait's own timeout remains."""
    try:
        client("stepfunctions").send_task_heartbeat(taskToken=token)
    except (ClientError, BotoCoreError) as exc:
        logger.info("heartbeat not sent", error=type(exc).__name__)


def _get_job(name: str) -> dict[str, Any]:
    try:
        return dict(client("transcribe").get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"])
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in _THROTTLING:
            raise DependencyUnavailableError(f"GetTranscriptionJob: {code}") from exc
        if code in ("BadRequestException", "NotFoundException"):
            return {"TranscriptionJobStatus": "FAILED", "FailureReason": f"the job {name} is unknown to Transcribe"}
        raise
    except BotoCoreError as exc:
        raise DependencyUnavailableError(f"GetTranscriptionJob: {exc}") from exc


def _settle_existing_job(dialogs: DialogRepository, store: TranscriptionRepository, dialog: Dialog, name: str,
                         settings: TranscriptionSettings) -> TranscriptionOutcome | None:
    """The job already exists: still running (its event will come), or already over (then take its outcome)."""
    final = _outcome_of_job(dialog, name, settings)
    return None if final is None else _finish(dialogs, store, dialog.dialog_id, final)


def _read_json(bucket: str, key: str) -> Any:
    try:
        body = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in ("NoSuchKey", "404", "AccessDenied"):
            raise ValueError(f"S3 answered {code}") from exc
        raise DependencyUnavailableError(f"reading the transcript: {code}") from exc
    except BotoCoreError as exc:
        raise DependencyUnavailableError(f"reading the transcript: {exc}") from exc
    return json.loads(body)


def _error_message(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"Transcribe refused the job ({error.get('Code')}): {error.get('Message', '')}".strip()


def _code(transcription: Transcription) -> str | None:
    return transcription.reason.code if transcription.reason else None


# ---------------------------------------------------------------------------------------------------- transcripts


def parse_transcript(document: dict[str, Any]) -> tuple[str, list[dict[str, Any]], str | None]:
    """Transcribe's output JSON -> (text, speaker turns, language code).

    Turns come from each item's `speaker_label` (speaker separation) or `channel_label` (channel identification);
    older outputs keep the labels only in `speaker_labels.segments` / `channel_labels.channels`, read as well.
    Punctuation items join the word before them.
    """
    results = document["results"]
    text = " ".join(t.get("transcript", "") for t in results.get("transcripts", [])).strip()
    items = _labelled_items(results)
    turns: list[dict[str, Any]] = []
    for item in items:
        content = (item.get("alternatives") or [{}])[0].get("content", "")
        if not content:
            continue
        speaker = item.get("speaker_label") or item.get("channel_label") or (turns[-1]["speaker"] if turns else "spk_0")
        if item.get("type") == "punctuation":
            if turns:
                turns[-1]["text"] += content
            continue
        start, end = float(item.get("start_time", 0)), float(item.get("end_time", 0))
        if turns and turns[-1]["speaker"] == speaker:
            turns[-1]["text"] += " " + content
            turns[-1]["end_s"] = end
        else:
            turns.append({"speaker": speaker, "start_s": start, "end_s": end, "text": content})
    language = results.get("language_code") or document.get("language_code")
    return text, turns, language


def _labelled_items(results: dict[str, Any]) -> list[dict[str, Any]]:
    items = list(results.get("items", []))
    if any("speaker_label" in i or "channel_label" in i for i in items):
        return items
    channels = (results.get("channel_labels") or {}).get("channels") or []
    if channels:
        merged = [{**i, "channel_label": ch.get("channel_label")} for ch in channels for i in ch.get("items", [])]
        return sorted(merged, key=lambda i: float(i.get("start_time", 0) or 0))
    segments = (results.get("speaker_labels") or {}).get("segments") or []
    spans = [(float(s["start_time"]), float(s["end_time"]), s["speaker_label"]) for s in segments]
    for item in items:
        if "start_time" in item:
            start = float(item["start_time"])
            item["speaker_label"] = next((label for a, b, label in spans if a <= start <= b), None)
    return items


def _cap(text: str) -> tuple[str, bool]:
    return (text, False) if len(text) <= MAX_TEXT_CHARS else (text[:MAX_TEXT_CHARS].rsplit(" ", 1)[0] + " …", True)


def _cap_turns(turns: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    kept: list[dict[str, Any]] = []
    used = 0
    for turn in turns:
        used += len(turn["text"]) + 40
        if used > MAX_TEXT_CHARS:
            return kept, True
        kept.append(turn)
    return kept, False
