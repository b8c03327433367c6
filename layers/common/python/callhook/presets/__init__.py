"""Providers callhook knows out of the box (`advanced_config.preset`, `callhook preset list|show NAME`).

A preset is what the seed calls "configured together with the implementation team", written down once per
provider: how its events map to the `telephony` block, which events make or update a call, how it signs, which
URL check it performs and which answer it insists on. A channel names a preset and overrides any part of it.

The merge lives in one place, `callhook.models.channel.effective_channel`, applied by ingest right after the channel
is loaded (and by the channel model's validation):

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

from callhook.models.preset import PRESET_CONFIG_KEYS, Preset

__all__ = ["PRESET_CONFIG_KEYS", "Preset", "get_preset", "list_presets", "preset_names"]


def list_presets() -> list[Preset]:
    # Loaded on first use: a function whose channels name no preset never builds the catalog (cold start).
    from callhook.presets.catalog import PRESETS

    return list(PRESETS)


def get_preset(name: str) -> Preset | None:
    return next((preset for preset in list_presets() if preset.name == name), None)


def preset_names() -> list[str]:
    return [preset.name for preset in list_presets()]
