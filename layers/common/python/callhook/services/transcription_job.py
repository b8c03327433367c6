"""The Transcribe job and the task token: the request StartTranscriptionJob gets, starting it idempotently, reading
its outcome (Transcribe's record, then the transcript), and answering the waiting Transcribe state.

Over `callhook.ports` (TranscribeJobs, Transcripts, TaskTokens, Dialogs); `repositories/transcribe.py` holds the AWS
calls. `services/transcription.py` runs the races around these; `tests/unit/test_transcription_job.py` proves them.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from callhook.clock import utc_now
from callhook.errors import TranscriptMissingError
from callhook.models.channel import Channel, TranscriptionConfig
from callhook.models.dialog import (
    Dialog,
    Reason,
    Recording,
    Transcription,
    TranscriptionStatus,
    Workflow,
    WorkflowStatus,
)
from callhook.models.reasons import TranscriptionReason as Why
from callhook.models.transcription import JobStart, TranscriptionOutcome
from callhook.observability import logger, metrics
from callhook.ports import Dialogs, TaskTokens, TranscribeJobs, Transcripts
from callhook.services.transcript import read_transcript
from callhook.settings import TranscriptionSettings

TRANSCRIBE_MEDIA_FORMATS = frozenset({"amr", "flac", "m4a", "mp3", "mp4", "ogg", "wav", "webm"})


def job_name_for(dialog: Dialog, settings: TranscriptionSettings) -> str:
    """Deterministic per dialog: whatever the interleaving, a call is transcribed once."""
    return f"{settings.job_prefix}{dialog.dialog_id}"


def transcript_key_for(dialog: Dialog, *, redacted: bool = False) -> str:
    """Where the job's transcript lands: OutputKey, or with content redaction the same folder and `redacted-` before
    the file name, as Transcribe writes it (the unredacted one is never written)."""
    return f"transcripts/{dialog.channel_id}/{'redacted-' if redacted else ''}{dialog.dialog_id}.json"


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
    if config.redaction:  # only the redacted transcript is written: the unredacted text is kept nowhere
        request["ContentRedaction"] = {"RedactionType": "PII", "RedactionOutput": "redacted"}
        if config.redaction != ["ALL"]:
            request["ContentRedaction"]["PiiEntityTypes"] = config.redaction
    if language := config.fixed_language:
        request["LanguageCode"] = language
    else:
        request["IdentifyLanguage"] = True
        request["LanguageOptions"] = list(config.languages)
    return request


def start_job(jobs: TranscribeJobs, tokens: TaskTokens, request: dict[str, Any], token: str | None) -> JobStart:
    """StartTranscriptionJob; once it runs, a heartbeat tells the waiting state so (HeartbeatSeconds).

    Raises:
        DependencyUnavailableError: Transcribe throttled or unreachable (the step is retried with a new token).
    """
    started = jobs.start(request)
    if started.outcome == "started":
        logger.info("transcription job started", job_name=request["TranscriptionJobName"],
                    media_format=request.get("MediaFormat"))
        metrics.add_metric(name="TranscriptionStarted", unit=MetricUnit.Count, value=1)
        if token is not None:
            tokens.heartbeat(token)
    elif started.outcome == "refused":
        logger.warning("transcription job refused", detail=started.message)
    return started


def refused(started: Transcription, job_name: str, message: str) -> Transcription:
    return Transcription(status=TranscriptionStatus.FAILED, job_name=job_name, started_at=started.started_at,
                         finished_at=utc_now(), reason=Reason(code=Why.TRANSCRIBE_REJECTED.value, message=message))


def job_outcome(jobs: TranscribeJobs, transcripts: Transcripts, dialog: Dialog, name: str, *,
                event_reason: str | None = None) -> Transcription | None:
    """The finished transcription from Transcribe's own record of the job; None while it still runs.

    Raises:
        DependencyUnavailableError: Transcribe or S3 throttled.
    """
    job = jobs.get(name)
    asked = dialog.transcription
    base: dict[str, Any] = {"job_name": name, "language": job.language_code, "started_at": asked.started_at,
                            "finished_at": utc_now(), "redaction": asked.redaction, "roles": asked.roles}
    if job.status == "FAILED":
        reason = job.failure_reason or event_reason or "Transcribe reported the job FAILED without a reason"
        return Transcription(status=TranscriptionStatus.FAILED, **base,
                             reason=Reason(code=Why.JOB_FAILED.value, message=reason))
    if job.status != "COMPLETED":
        return None
    key = transcript_key_for(dialog, redacted=job.redacted)
    try:
        content = read_transcript(transcripts.read(key), roles=asked.roles)
    except (TranscriptMissingError, ValueError, KeyError, TypeError) as exc:
        return Transcription(status=TranscriptionStatus.FAILED, **base, reason=Reason(
            code=Why.TRANSCRIPT_UNREADABLE.value, message=f"the transcript at {key} could not be read: {exc}"))
    return Transcription(status=TranscriptionStatus.COMPLETED, **{**base, "language": base["language"] or
                                                                  content.language},
                         text=content.text, turns=content.turns, transcript_s3_key=key, truncated=content.truncated)


def answer(dialogs: Dialogs, tokens: TaskTokens, dialog: Dialog, token: str | None,
           transcription: Transcription, *, workflow_recorded: bool = False) -> TranscriptionOutcome:
    """Answer the waiting Transcribe state, if a token waits: the workflow ends with it (recorded here unless the
    write that ended the transcription already did, `workflow_recorded`)."""
    outcome = TranscriptionOutcome.of(transcription)
    if token is not None:
        if not workflow_recorded:
            complete_workflow(dialogs, dialog)
        tokens.succeed(token, outcome.model_dump_json())
    return outcome


def completed_workflow(dialog: Dialog) -> Workflow:
    """The Transcribe state is the workflow's last step: the wait ending is the workflow ending."""
    return Workflow(status=WorkflowStatus.COMPLETED, started_at=dialog.workflow.started_at, finished_at=utc_now())


def complete_workflow(dialogs: Dialogs, dialog: Dialog) -> None:
    dialogs.set_sections(dialog.dialog_id, {"workflow": completed_workflow(dialog).model_dump(mode="json")})
