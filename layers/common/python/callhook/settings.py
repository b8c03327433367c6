"""Environment in, typed settings out. The only module that reads os.environ for configuration."""

from __future__ import annotations

import functools
import os
from typing import cast

from pydantic import BaseModel, ConfigDict, Field


class CommonSettings(BaseModel):
    """Names every function gets from `Globals` in template.yaml."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    channels_table: str = Field(alias="CHANNELS_TABLE", min_length=1)
    dialogs_table: str = Field(alias="DIALOGS_TABLE", min_length=1)
    events_table: str = Field(alias="EVENTS_TABLE", min_length=1)
    operators_table: str = Field(alias="OPERATORS_TABLE", min_length=1)
    topics_table: str = Field(alias="TOPICS_TABLE", min_length=1)
    actions_table: str = Field(alias="ACTIONS_TABLE", min_length=1)
    settings_table: str = Field(alias="SETTINGS_TABLE", min_length=1)
    recordings_bucket: str = Field(alias="RECORDINGS_BUCKET", min_length=1)


class IngestSettings(CommonSettings):
    state_machine_arn: str = Field(alias="STATE_MACHINE_ARN", pattern=r"^arn:aws[\w-]*:states:")
    max_body_bytes: int = Field(alias="MAX_BODY_BYTES", default=262_144, gt=0)
    # How long a sandbox trusts its copy of a channel item and of its signature secret: a token or secret replaced
    # or a channel deactivated in the console is refused at most this long after (a refusal re-reads both first,
    # so a new one is accepted at once).
    channel_cache_seconds: float = Field(alias="CHANNEL_CACHE_SECONDS", default=5.0, ge=0, le=10)
    default_retention_days: int = Field(alias="DEFAULT_RETENTION_DAYS", default=0, ge=0)


class ReconcileSettings(CommonSettings):
    model_config = ConfigDict(defer_build=True)  # built on first use: every function imports this module (cold start)

    state_machine_arn: str = Field(alias="STATE_MACHINE_ARN", pattern=r"^arn:aws[\w-]*:states:")
    reconcile_after_seconds: float = Field(alias="RECONCILE_AFTER_SECONDS", default=120, ge=0)
    recording_after_seconds: float = Field(alias="RECORDING_RECONCILE_AFTER_SECONDS", default=300, ge=0)


@functools.cache
def _from_env(model: type[CommonSettings]) -> CommonSettings:
    return model.model_validate(os.environ)  # a ValidationError at cold start, not mid-request


def load_settings[S: CommonSettings](model: type[S]) -> S:
    return cast(S, _from_env(model))


def clear_settings_cache() -> None:
    _from_env.cache_clear()


class TranscriptionSettings(CommonSettings):
    """Job names are `<prefix><dialog_id>`: the prefix (the stack name) keeps stacks in one account apart and is
    what the EventBridge rule matches."""

    model_config = ConfigDict(defer_build=True)  # built on first use: every function imports this module (cold start)

    job_prefix: str = Field(alias="TRANSCRIBE_JOB_PREFIX", min_length=1, pattern=r"^[0-9a-zA-Z._-]+$")


class RecordingRequestSettings(CommonSettings):
    """Where the functions that learn a recording URL send it (not set on the KeepRecording function itself)."""

    model_config = ConfigDict(defer_build=True)  # built on first use: read only for a call with a recording URL

    keep_recording_function: str | None = Field(alias="KEEP_RECORDING_FUNCTION", default=None)
