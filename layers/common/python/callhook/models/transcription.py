"""Transcription boundaries: the waiting Transcribe state's payload and answer, Transcribe's job-state event,
the timeout notice, and the KeepRecording request.

The Transcribe state waits on a task token (`lambda:invoke.waitForTaskToken`); its answer lands at
`$.transcription` of the execution state, so it is small (a status and a reason code), never the transcript.

Every model builds on first use (`defer_build`): ingest imports this module for KeepRecordingRequest, which it sends
only for a call with a recording URL, and never validates the others (its cold import).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from callhook.models.dialog import Transcription, TranscriptionStatus
from callhook.models.workflow import StepError, WorkflowState

JOB_STATE_CHANGE = "Transcribe Job State Change"
# The dialog item's attribute naming the claimed Transcribe job (repositories/transcriptions.py says why).
JOB_ATTRIBUTE = "transcription_job"


class TranscribeTask(BaseModel):
    """The Transcribe state's Payload: `{"state.$": "$", "task_token.$": "$$.Task.Token"}`."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    state: WorkflowState
    task_token: str = Field(min_length=1)


class TranscriptionOutcome(BaseModel):
    """What answers the waiting Transcribe state (SendTaskSuccess output) and ends up at `$.transcription`."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    status: TranscriptionStatus
    reason: str | None = None  # the reason code, when there is one
    job_name: str | None = None

    @classmethod
    def of(cls, transcription: Transcription) -> TranscriptionOutcome:
        return cls(status=transcription.status, job_name=transcription.job_name,
                   reason=transcription.reason.code if transcription.reason else None)


class TranscriptionWaitEnded(BaseModel):
    """The workflow stopped waiting (TimeoutSeconds or HeartbeatSeconds passed): the Catch's `$.transcription`."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    dialog_id: str
    error: StepError


class JobStateChangeDetail(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    job_name: str = Field(alias="TranscriptionJobName", min_length=1)
    status: str = Field(alias="TranscriptionJobStatus")  # COMPLETED or FAILED (the only ones Transcribe sends)
    failure_reason: str | None = Field(default=None, alias="FailureReason")


class JobStateChangeEvent(BaseModel):
    """Amazon Transcribe's EventBridge event, as the rule in template.yaml delivers it to the completion function."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    source: Literal["aws.transcribe"]
    detail_type: Literal["Transcribe Job State Change"] = Field(alias="detail-type")
    detail: JobStateChangeDetail


class KeepRecordingRequest(BaseModel):
    """The KeepRecording function's input (an asynchronous invoke from ingest, BeginWorkflow or Enrich)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    dialog_id: str = Field(min_length=1)


class JobStart(BaseModel):
    """What StartTranscriptionJob answered (`callhook.ports.TranscribeJobs.start`): started; `exists` (a job of
    that name is ours already, and may be over); `refused` with Transcribe's message (a request it will never take)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    outcome: Literal["started", "exists", "refused"]
    message: str | None = None


class TranscribeJob(BaseModel):
    """Transcribe's own record of a job (GetTranscriptionJob); an unknown job is FAILED with a reason."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str
    status: str | None = None  # QUEUED, IN_PROGRESS, COMPLETED, FAILED
    failure_reason: str | None = None
    language_code: str | None = None
    redacted: bool = False  # content redaction: the transcript is the `redacted-` one (transcript_key_for says where)


class Fetched(BaseModel):
    """What a recording URL answered (`callhook.ports.RecordingDownloads.fetch`); the body went to the sink."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    status: int
    content_type: str = ""  # lower case, without parameters
