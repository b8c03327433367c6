"""Providers callhook knows out of the box (`advanced_config.preset`, `callhook preset list|show NAME`).

A preset is what the seed calls "configured together with the implementation team", written down once per
provider: how its events map to the `telephony` block, which events make or update a call, how it signs, which
URL check it performs and which answer it insists on. A channel names a preset and overrides any part of it.

The merge lives in one place, :func:`effective_channel`, applied by ingest right after the channel is loaded:

* `field_mapping`: per canonical field, the admin's expression wins; `` `null` `` switches a field off.
* `accept_when`, `update_when`, `timezone`, `default_region`, `handshake`, `answer`: the admin's value when set,
  else the preset's (to accept every event of a preset that filters, set `accept_when` to ``"`true`"``).
* `signature`: the preset's scheme and options apply once the admin gives the secret (`signature.secret`); keys
  the admin sets win. An admin signature with another scheme replaces the preset's whole. Without a signature
  the channel authenticates with its token, as any channel does.
* `recording_auth.hosts`: the admin's list when given, else the preset's `recording_hosts` (its provider's media
  hosts). A channel with `recording_auth` and no hosts either way is refused, preset or not: credentials are
  only ever sent to hosts someone named.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from callhook.errors import ChannelConfigError
from callhook.models.channel import (
    SIGNATURE_SCHEMES,
    AdvancedConfig,
    Channel,
    HandshakeConfig,
    RecordingAuth,
    SignatureConfig,
    describe_validation_error,
)

# The AdvancedConfig keys a preset may fill; anything else (transcription, preset itself) is the admin's alone.
PRESET_CONFIG_KEYS = ("field_mapping", "accept_when", "update_when", "timezone", "default_region")


class Preset(BaseModel):
    """One provider's webhook conventions, as a channel fragment plus what an admin needs to set the provider up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    docs_url: str
    what_to_paste: list[str]  # into the provider's console: the URL, the secret
    events_to_enable: list[str]
    arrives: str  # what arrives when, and how the events make one call
    signature: dict[str, Any] | None = None  # a SignatureConfig without its secret: scheme + options
    advanced_config: dict[str, Any] = Field(default_factory=dict)  # PRESET_CONFIG_KEYS only
    handshake: HandshakeConfig | None = None
    answer: dict[str, Any] | None = None
    recording_hosts: list[str] = Field(default_factory=list)  # where its recordings are served: recording_auth.hosts
    notes: list[str] = Field(default_factory=list)

    @field_validator("signature")
    @classmethod
    def _known_scheme(cls, fragment: dict[str, Any] | None) -> dict[str, Any] | None:
        if fragment is None:
            return None
        if fragment.get("scheme") not in SIGNATURE_SCHEMES or "secret" in fragment:
            raise ValueError(f"a preset's signature names a scheme of {SIGNATURE_SCHEMES} and never a secret")
        return fragment

    @field_validator("recording_hosts")
    @classmethod
    def _valid_hosts(cls, hosts: list[str]) -> list[str]:
        return [RecordingAuth.hostname(host) for host in hosts]  # the same rules as a channel's

    @field_validator("advanced_config")
    @classmethod
    def _valid_fragment(cls, fragment: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(fragment) - set(PRESET_CONFIG_KEYS))
        if unknown:
            raise ValueError(f"a preset fills only {PRESET_CONFIG_KEYS}, not {unknown}")
        AdvancedConfig.model_validate(fragment)  # mapping fields and expressions are checked as for a channel
        return fragment


def list_presets() -> list[Preset]:
    from callhook.presets.catalog import PRESETS

    return list(PRESETS)


def get_preset(name: str) -> Preset | None:
    return next((preset for preset in list_presets() if preset.name == name), None)


def preset_names() -> list[str]:
    return [preset.name for preset in list_presets()]


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
