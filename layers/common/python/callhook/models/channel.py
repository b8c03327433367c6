"""The channel item (docs/items.md): how one provider's webhooks become dialogs, valid only with its preset merged.

Its parts live in `callhook.models.channel_config` (re-exported here); the presets build on those parts, and this
module on the presets: `effective_channel`, the one merge of a channel with its preset, is here, where the item
that must be valid with it is.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from callhook.errors import ChannelConfigError
from callhook.models.channel_config import (
    RECORDING_SECRET_PREFIXES,
    SECRET_REFERENCE_PREFIX,
    SIGNATURE_SCHEMES,
    EnrichErrorAction,
    HandshakeConfig,
    MappingConfig,
    RecordingAuth,
    SignatureConfig,
    TranscriptionConfig,
    describe_validation_error,
    standard_webhooks_key,
)
from callhook.models.preset import Preset
from callhook.presets import get_preset, preset_names

__all__ = [
    "CHANNEL_ID_PATTERN", "RECORDING_SECRET_PREFIXES", "SECRET_REFERENCE_PREFIX", "SIGNATURE_SCHEMES",
    "AdvancedConfig", "Channel", "EnrichErrorAction", "HandshakeConfig", "MappingConfig", "RecordingAuth",
    "SignatureConfig",
    "TranscriptionConfig", "describe_validation_error", "effective_channel", "standard_webhooks_key",
]

CHANNEL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class AdvancedConfig(MappingConfig):
    """The seed's "Advanced Config": field mapping and event selection (MappingConfig), the preset, and the rest."""

    model_config = ConfigDict(extra="forbid")

    preset: str | None = None
    transcription: TranscriptionConfig = Field(default_factory=TranscriptionConfig)
    # Provider handshakes and fixed answers live here too; unknown keys are rejected so typos surface.
    handshake: HandshakeConfig | None = None
    # Merged over the 200 answer's JSON (docs/webhook-api.md), for providers that stop sending without their own success
    # body: Binotel `{"status": "success"}`, Sipuni `{"success": true}`. Error answers are never changed.
    answer: dict[str, Any] | None = None

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, name: str | None) -> str | None:
        if name is not None and name not in preset_names():
            raise ValueError(f"unknown preset {name!r}; known: {preset_names()} (`callhook preset list`)")
        return name


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
    allow_private_network: bool = False  # for recording downloads (docs/items.md)
    recording_auth: RecordingAuth | None = None  # credentials for the recording download
    public_url: str | None = None  # the URL the provider calls, when a proxy rewrites it (signatures)
    retention_days: int | None = Field(default=None, ge=0, le=36500)  # None: the stack's default; 0: forever
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
        if self.signature is not None and self.signature.scheme is None and self.advanced_config.preset is None:
            raise ValueError("signature.scheme is required unless advanced_config.preset names a provider that signs")
        return self

    @model_validator(mode="after")
    def _valid_with_its_preset(self) -> Channel:
        """The channel as ingest uses it, merged with its preset, must be valid too (the merge can fail on its own:
        a signature without a scheme on a preset that does not sign; recording_auth with hosts from neither the
        item nor a preset)."""
        try:
            effective_channel(self)
        except ChannelConfigError as exc:
            raise ValueError(str(exc)) from exc
        return self




def parse_channel(item: dict[str, Any]) -> Channel:
    """The channel of a stored item. Raises ChannelConfigError naming every problem: it fails that channel's
    webhooks only."""
    try:
        return Channel.model_validate(item)
    except ValidationError as exc:
        raise ChannelConfigError(f"channel {item.get('channel_id')!r} is invalid: {describe_validation_error(exc)}") \
            from exc


def effective_channel(channel: Channel) -> Channel:
    """The channel as ingest uses it: its preset's fields filled in wherever the admin left them unset.

    Raises:
        ChannelConfigError: the merge is invalid (the preset is unknown, or the admin's signature names no scheme
            and the preset does not sign); the message says what to set.
    """
    name = channel.advanced_config.preset
    if name is None:
        return channel.model_copy(update={"recording_auth": _merged_recording_auth(channel, None)})
    preset = get_preset(name)
    if preset is None:
        raise ChannelConfigError(f"channel {channel.channel_id!r}: unknown preset {name!r}")
    try:
        config = AdvancedConfig.model_validate(_merged_config(channel.advanced_config, preset))
        signature = _merged_signature(channel, preset)
    except ValidationError as exc:
        raise ChannelConfigError(f"channel {channel.channel_id!r} with preset {name!r} is invalid: "
                                 f"{describe_validation_error(exc)}") from exc
    return channel.model_copy(update={"advanced_config": config, "signature": signature,
                                      "recording_auth": _merged_recording_auth(channel, preset)})


def _merged_recording_auth(channel: Channel, preset: Preset | None) -> RecordingAuth | None:
    auth = channel.recording_auth
    if auth is None or auth.hosts:
        return auth
    if preset is not None and preset.recording_hosts:
        return auth.model_copy(update={"hosts": list(preset.recording_hosts)})
    where = f"preset {preset.name!r} names none" if preset is not None else "the channel has no preset that names them"
    raise ChannelConfigError(f"channel {channel.channel_id!r}: recording_auth.hosts is required ({where}): list the "
                             "hostnames the recording credentials may be sent to, e.g. [\"api.twilio.com\"]")


def _merged_config(admin: AdvancedConfig, preset: Preset) -> dict[str, Any]:
    merged = admin.model_dump(mode="json")
    fragment = preset.advanced_config
    merged["field_mapping"] = {**fragment.get("field_mapping", {}), **admin.field_mapping}
    for key in ("accept_when", "update_when", "timezone", "default_region"):
        if merged.get(key) is None:
            merged[key] = fragment.get(key)
    if admin.handshake is None and preset.handshake is not None:
        merged["handshake"] = preset.handshake.model_dump(mode="json")
    if admin.answer is None:
        merged["answer"] = preset.answer
    return merged


def _merged_signature(channel: Channel, preset: Preset) -> SignatureConfig | None:
    admin = channel.signature
    if admin is None:
        return None
    fragment = preset.signature or {}
    if admin.scheme is not None and admin.scheme != fragment.get("scheme"):
        return admin
    if not fragment:
        raise ChannelConfigError(f"channel {channel.channel_id!r}: preset {preset.name!r} does not sign its "
                                 f"webhooks; set signature.scheme or remove signature (the token then applies)")
    admin_keys = {key: value for key, value in admin.model_dump(mode="json").items() if value is not None}
    return SignatureConfig.model_validate({**fragment, **admin_keys})
