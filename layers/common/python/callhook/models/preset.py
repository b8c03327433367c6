"""A provider preset (`callhook.presets` holds the catalog): a channel fragment plus how to set the provider up.

Built on the channel's parts only (`callhook.models.channel_config`), so the channel model can validate an item
with its preset without an import cycle.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from callhook.models.channel_config import SIGNATURE_SCHEMES, HandshakeConfig, MappingConfig, RecordingAuth

# The AdvancedConfig keys a preset may fill; anything else (transcription, preset itself) is the admin's alone.
PRESET_CONFIG_KEYS = tuple(MappingConfig.model_fields)  # field_mapping, accept_when, update_when, timezone, ...


class Preset(BaseModel):
    """One provider's webhook conventions, as a channel fragment plus what an admin needs to set the provider up."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built with the catalog, on first use

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
        MappingConfig.model_validate(fragment)  # mapping fields and expressions are checked as for a channel
        return fragment


