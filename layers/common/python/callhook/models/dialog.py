"""The dialog item (docs/workflow.md): one call, what each step did with it, and why."""

from __future__ import annotations

import base64
import hashlib
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from callhook.models.call import MappingWarning, Telephony
from callhook.models.channel import EnrichErrorAction


def make_dialog_id(channel_id: str, call_id: str) -> str:
    """Deterministic: the same call on the same channel is always the same dialog (and the same execution name).

    This is what makes a provider's re-delivery a conditional-write conflict instead of a second dialog.
    """
    digest = hashlib.sha256(f"{channel_id}\x00{call_id}".encode()).digest()
    return "d-" + base64.b32encode(digest).decode().rstrip("=").lower()[:26]


class EnrichmentStatus(StrEnum):
    PENDING = "pending"
    OK = "ok"
    FAILED = "failed"
    DISABLED = "disabled"


class Enrichment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: EnrichmentStatus
    action_id: str | None = None
    result: dict[str, Any] | None = None  # operator_email, topic, recording_url, extra
    error: dict[str, Any] | None = None  # {"type", "code", "message", ...}
    elapsed_ms: int | None = None


class AssignmentStatus(StrEnum):
    PENDING = "pending"
    ASSIGNED = "assigned"
    NOT_ASSIGNED = "not_assigned"


class AssignmentSource(StrEnum):
    ENRICHMENT = "enrichment"
    WEBHOOK_EMAIL = "webhook_email"
    WEBHOOK_EXT = "webhook_ext"
    DEFAULT_OPERATOR = "default_operator"


class Reason(BaseModel):
    """A machine-readable reason (the seed's "common problems"), with the values that were compared."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: AssignmentStatus = AssignmentStatus.PENDING
    operator_id: int | None = None
    source: AssignmentSource | None = None
    reason: Reason | None = None
    attempts: list[Reason] = Field(default_factory=list)  # every candidate tried, in order


class TopicStatus(StrEnum):
    PENDING = "pending"
    SET = "set"
    NOT_SET = "not_set"


class TopicResolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: TopicStatus = TopicStatus.PENDING
    alias: str | None = None
    reason: Reason | None = None


class TranscriptionStatus(StrEnum):
    NOT_REQUESTED = "not_requested"
    SKIPPED = "skipped"
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"


PII_MARK = "[PII]"  # what Amazon Transcribe's content redaction writes where an entity was


class Transcription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: TranscriptionStatus = TranscriptionStatus.NOT_REQUESTED
    reason: Reason | None = None
    job_name: str | None = None
    language: str | None = None
    text: str | None = None
    # {"speaker", "start_s", "end_s", "text"}, and "role" when the channel names its stereo channels' roles
    turns: list[dict[str, Any]] = Field(default_factory=list)
    # What the job was asked for, kept from its start: the PII entity types redacted (["ALL"]: every type; None: not
    # redacted), and the stereo channels' roles ({"0": "agent", "1": "customer"}).
    redaction: list[str] | None = None
    roles: dict[str, str] = Field(default_factory=dict)
    started_at: str | None = None
    finished_at: str | None = None
    transcript_s3_key: str | None = None  # Transcribe's full output JSON in the recordings bucket
    truncated: bool = False


class RecordingStatus(StrEnum):
    PENDING = "pending"  # a recording_url is known; copying it into the recordings bucket is under way
    KEPT = "kept"
    FAILED = "failed"


class Recording(BaseModel):
    """The call's recording, copied into the recordings bucket as soon as its URL is known.

    Providers' links expire within minutes or need credentials, so the copy is what transcription (and anyone
    later) uses; `source_host` names where it came from (the full link stays in `telephony.recording_url`).
    """

    model_config = ConfigDict(extra="forbid")

    status: RecordingStatus = RecordingStatus.PENDING
    s3_key: str | None = None
    size: int | None = None  # bytes
    content_type: str | None = None  # as the provider sent it
    media_format: str | None = None  # what the bytes are (wav, mp3, flac, ogg, webm, amr, mp4), sniffed
    duration_s: float | None = None  # when the container says (WAV)
    channels: int | None = None
    sample_rate_hz: int | None = None
    source_host: str | None = None
    reason: Reason | None = None  # why it could not be kept
    warning: Reason | None = None  # kept or not, what was unusual (credentials withheld from a host not listed)
    kept_at: str | None = None


class WorkflowStatus(StrEnum):
    PENDING = "pending"  # stored, execution not yet seen running (reconciliation looks for these)
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"  # a step failed for a reason we own (not a business outcome); redrive from the CLI


class Workflow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: WorkflowStatus = WorkflowStatus.PENDING
    started_at: str | None = None
    finished_at: str | None = None
    error: dict[str, Any] | None = None


class Policy(BaseModel):
    """The channel settings that applied to this call, frozen when the dialog was created."""

    model_config = ConfigDict(extra="forbid")

    enrich_action: str | None = None
    enrich_error_action: EnrichErrorAction = EnrichErrorAction.DO_NOT_ASSIGN
    auto_transcription: bool = False
    retention_days: int = 0  # 0: kept forever; else the dialog expires (expires_at) that many days after the call


class FeedEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str  # stable per event, so that a retried step never posts twice
    at: str
    kind: Literal["service", "transcript"]
    code: str
    text: str


class PayloadRef(BaseModel):
    """A value too large for the item, kept as an object in the recordings bucket beside its dialog (a claim
    check): a DynamoDB item holds 400 KB, a Step Functions state 256 KB, a body the API accepts may decode to more."""

    model_config = ConfigDict(extra="forbid")

    s3_key: str
    size: int  # bytes of the object


class Dialog(BaseModel):
    """The dialog as stored in the dialogs table and printed by `callhook dialog get`."""

    model_config = ConfigDict(extra="ignore")

    dialog_id: str
    channel_id: str
    call_id: str
    created_at: str
    updated_at: str | None = None
    telephony: Telephony
    raw_ref: PayloadRef | None = None  # set: `telephony.raw` is kept in the bucket (read it with services/payloads)
    mapping_warnings: list[MappingWarning] = Field(default_factory=list)
    policy: Policy = Field(default_factory=Policy)
    operator_id: int | None = None
    topic: str | None = None
    enrichment: Enrichment
    assignment: Assignment = Field(default_factory=Assignment)
    topic_resolution: TopicResolution = Field(default_factory=TopicResolution)
    recording: Recording | None = None
    transcription: Transcription = Field(default_factory=Transcription)
    feed: list[FeedEntry] = Field(default_factory=list)
    workflow: Workflow = Field(default_factory=Workflow)
    execution_arn: str | None = None
    expires_at: int | None = None  # epoch seconds: DynamoDB's TTL removes the dialog then (retention_days)
