"""The channel item (CONTRACT §3): how one provider's webhooks become dialogs."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jmespath
import phonenumbers
from jmespath.exceptions import JMESPathError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from callhook.models.call import CANONICAL_FIELDS

CHANNEL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class EnrichErrorAction(StrEnum):
    """What the workflow does when the webhook enrich action fails (the seed's "Enrich error action")."""

    DO_NOT_ASSIGN = "do_not_assign"
    ASSIGN_ADMIN = "assign_admin"


def _check_jmespath(expr: str) -> str:
    try:
        jmespath.compile(expr)
    except JMESPathError as exc:
        raise ValueError(f"invalid JMESPath expression {expr!r}: {exc}") from exc
    return expr


class SignatureConfig(BaseModel):
    """How the provider signs its requests; checked over the raw body before parsing."""

    model_config = ConfigDict(extra="allow")

    scheme: str = Field(min_length=1)
    secret: str | None = None


class TranscriptionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str | None = None  # e.g. "en-US"; None = automatic identification over `languages`
    languages: list[str] = Field(default_factory=lambda: ["en-US", "es-US", "de-DE", "fr-FR", "ru-RU"])


class AdvancedConfig(BaseModel):
    """The seed's "Advanced Config": field mapping and event selection."""

    model_config = ConfigDict(extra="forbid")

    preset: str | None = None
    field_mapping: dict[str, str] = Field(default_factory=dict)
    accept_when: str | None = None
    update_when: str | None = None
    timezone: str | None = None
    default_region: str | None = None
    transcription: TranscriptionConfig = Field(default_factory=TranscriptionConfig)
    # Provider handshakes and fixed answers (issue 6) live here too; unknown keys are rejected so typos surface.
    answer: dict[str, Any] | None = None

    @field_validator("field_mapping")
    @classmethod
    def _known_fields_valid_expressions(cls, mapping: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(mapping) - set(CANONICAL_FIELDS))
        if unknown:
            raise ValueError(f"unknown canonical field(s) {unknown}; known: {list(CANONICAL_FIELDS)}")
        for field, expr in mapping.items():
            try:
                _check_jmespath(expr)
            except ValueError as exc:
                raise ValueError(f"{field}: {exc}") from exc
        return mapping

    @field_validator("accept_when", "update_when")
    @classmethod
    def _valid_condition(cls, expr: str | None) -> str | None:
        return None if expr is None or not expr.strip() else _check_jmespath(expr)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, tz: str | None) -> str | None:
        if tz is None:
            return None
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {tz!r} (e.g. 'Europe/Moscow', 'Asia/Kolkata')") from exc
        return tz

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, region: str | None) -> str | None:
        if region is None:
            return None
        region = region.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {region!r}: use an ISO 3166 code such as 'US', 'GB', 'RU'")
        return region

    def mapping_for(self, field: str) -> str:
        """The expression for a canonical field: the admin's, else the field's own name."""
        return self.field_mapping.get(field, field)


class Channel(BaseModel):
    """A telephony channel item. Validation errors name the field path, so one broken item is easy to fix."""

    model_config = ConfigDict(extra="forbid")

    channel_id: str = Field(pattern=CHANNEL_ID_PATTERN)
    name: str = ""
    active: bool = True
    webhook_token: str | None = Field(default=None, min_length=16)
    signature: SignatureConfig | None = None
    webhook_enrich_action: str | None = None
    enrich_error_action: EnrichErrorAction = EnrichErrorAction.DO_NOT_ASSIGN
    auto_transcription: bool = False
    allow_private_network: bool = False  # for recording downloads (CONTRACT §3)
    public_url: str | None = None  # the URL the provider calls, when a proxy rewrites it (signatures)
    advanced_config: AdvancedConfig = Field(default_factory=AdvancedConfig)
    version: int = 0

    @field_validator("webhook_enrich_action", mode="before")
    @classmethod
    def _empty_means_disabled(cls, value: Any) -> Any:
        # The seed: "If the field is empty, enrichment is disabled."
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _has_credentials(self) -> Channel:
        if not self.webhook_token and self.signature is None:
            raise ValueError("a channel needs a webhook_token or a signature; `callhook channel put` generates a token")
        return self


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, each with its field path: what the webhook answer and the CLI print."""
    parts = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(item)"
        parts.append(f"{path}: {err['msg']}")
    return "; ".join(parts)
