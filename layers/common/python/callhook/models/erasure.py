"""Erasure on request (`callhook dialog erase`): what is found for one dialog or one phone number, and the record
left behind, which holds ids, counts, when and who, never personal data.

Built on first use (`defer_build`): ingest imports this module (with callhook.services.retention) but never erases.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DialogErasure(BaseModel):
    """One dialog and everything of it: its raw events, its objects in the bucket, its Transcribe job."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    dialog_id: str
    channel_id: str
    raw_event_ids: list[str] = Field(default_factory=list)
    object_keys: list[str] = Field(default_factory=list)
    transcription_job: str | None = None


class ErasureSearch(BaseModel):
    """What an erasure by number searched, without the number: the rule, the number's country code and region
    (whose national format was compared), and how many items and objects were looked at."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    rule: str
    country_code: int
    region: str | None = None
    dialogs: int = 0
    raw_events: int = 0
    spool_objects: int = 0


class ErasurePlan(BaseModel):
    """Everything to delete, found before anything is deleted (so a dry run and the real run agree)."""

    model_config = ConfigDict(defer_build=True)

    scope: Literal["dialog", "phone"]
    channel_id: str | None = None
    dialogs: list[DialogErasure] = Field(default_factory=list)
    raw_event_ids: list[str] = Field(default_factory=list)  # of the channel, not linked to a dialog (rejected ones)
    spool_keys: list[str] = Field(default_factory=list)  # requests still spooled, or set aside there, that carry it
    searched: ErasureSearch | None = None  # by number: what was looked at

    @property
    def all_raw_event_ids(self) -> list[str]:
        return sorted({*self.raw_event_ids, *(e for d in self.dialogs for e in d.raw_event_ids)})


class ErasureRecord(BaseModel):
    """What was erased, when and by whom. Ids are pseudonymous (a dialog id is a hash of channel and call id); the
    number asked for, names and emails are never stored."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    erasure_id: str
    erased_at: str
    erased_by: str  # the IAM identity of the caller (STS GetCallerIdentity)
    scope: Literal["dialog", "phone"]
    channel_id: str | None = None
    dialog_ids: list[str] = Field(default_factory=list)
    raw_event_ids: list[str] = Field(default_factory=list)
    objects_deleted: int = 0
    transcription_jobs_deleted: int = 0
    spooled_requests_deleted: int = 0
    searched: ErasureSearch | None = None
    not_deleted: list[str] = Field(default_factory=list)  # what failed (ids and error codes only), to erase again
