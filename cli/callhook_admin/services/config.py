"""Configuration items (docs/items.md) read and written for the admin: channels, operators, topics, actions, settings.

Every write validates with the model the functions parse the item with (a channel with its preset merged, an
action as `HttpAction | LambdaAction`), and every default is the model's: a listing shows a valid item as its
model reads it, an invalid one as stored (with its problems), never with defaults of its own. The CLI and the
local demo seed write through here; the CheckConfig function and `check` commands judge with
`callhook.services.config_check`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ValidationError

from callhook.models.action import HttpAction, LambdaAction, parse_action
from callhook.models.channel import Channel
from callhook.models.directory import (
    DEFAULT_OPERATOR_ID,
    DEFAULT_OPERATOR_SETTING,
    Operator,
    Topic,
    normalize_email,
)
from callhook.models.problems import InvalidItem, ItemProblem, problems_of
from callhook.repositories.config import (
    ConfigTable,
    VersionConflictError,
    clear_channel_cache,
    find_operator_by_email,
    get_operator,
    operator_entry,
    operator_item,
    read_operator_item,
)
from callhook.services.config_check import KEYS, ItemCheck, ItemKind, check_item
from callhook.services.config_check import check_stored as check_items
from callhook_admin.errors import AdminError

__all__ = ["VersionConflictError"]  # what a versioned write raises, for the CLI's one-line answer


@dataclass(frozen=True)
class KnownSetting:
    """An instance setting the services read: the type its value must have, and what applies when none is stored."""

    kind: type
    default: Any
    meaning: str


# A typo in a setting name would be silently ignored by everything that reads settings: an unknown key is refused
# unless forced. The default here is the one the reader applies (callhook.repositories.config).
KNOWN_SETTINGS: dict[str, KnownSetting] = {
    DEFAULT_OPERATOR_SETTING: KnownSetting(int, DEFAULT_OPERATOR_ID, "an operator's user_id"),
}


class SettingValue(BaseModel):
    key: str
    value: Any
    default: bool  # True: nothing is stored, this is the value the services apply


def new_webhook_token() -> str:
    return secrets.token_urlsafe(24)


# ------------------------------------------------------------------------------------------------------------ listed
@dataclass(frozen=True)
class Listed[Model: BaseModel]:
    """One stored item of a listing: as stored (`item`), and as its model reads it (`model`, None when invalid)."""

    item: dict[str, Any]
    model: Model | None
    problems: list[ItemProblem]

    @property
    def valid(self) -> bool:
        return self.model is not None


def _listed(kind: ItemKind, item: dict[str, Any]) -> Listed[Any]:
    check = check_item(kind, item)
    if not check.valid:
        return Listed(item, None, check.problems)
    return Listed(item, Channel.model_validate(item) if kind == "channel" else parse_action(item), [])


# ----------------------------------------------------------------------------------------------------------- channel
def put_channel(table: str, data: dict[str, Any], *, expected_version: int | None = None) -> Channel:
    """Validate (raising pydantic's ValidationError with every field path), fill a token, bump the version.

    Raises:
        pydantic.ValidationError: the item is invalid; nothing is written.
        VersionConflictError: `expected_version` given and someone else saved the channel meanwhile.
    """
    data = dict(data)
    if not data.get("webhook_token") and not data.get("signature"):
        data["webhook_token"] = new_webhook_token()
    channel = Channel.model_validate(data)
    saved = _save_versioned(ConfigTable(table, "channel_id"), channel.channel_id, channel, expected_version)
    clear_channel_cache()
    return saved


class TokenSource(StrEnum):
    """Where the token a channel put writes comes from."""

    FILE = "file"  # the item gives one (or its mask, standing for the stored one)
    KEPT = "kept"  # the item gives none: the stored one stays
    GENERATED = "generated"  # new channel, or rotation asked for
    NONE = "none"  # a signature channel: no token


def with_webhook_token(data: dict[str, Any], stored: dict[str, Any] | None, *,
                       rotate: bool = False) -> tuple[dict[str, Any], TokenSource]:
    """The item a channel put writes, with its token decided.

    A file without a token keeps the stored one: the provider already has the webhook URL with that token, and a
    new one would turn its calls into 401s. A new token only for a new channel, or when `rotate` asks for one.

    Raises:
        AdminError: `rotate` with a file that gives another token, or on a signature channel (no token to rotate).
    """
    data, stored = dict(data), stored or {}
    given, kept = data.get("webhook_token"), stored.get("webhook_token")
    if rotate:
        if data.get("signature"):
            raise AdminError("--rotate-token: this channel authenticates by signature and has no token to rotate")
        if given and given != kept:
            raise AdminError("--rotate-token generates the token: remove webhook_token from the file, or give your "
                             "own token without --rotate-token")
        data["webhook_token"] = new_webhook_token()
        return data, TokenSource.GENERATED
    if given:
        return data, TokenSource.FILE
    if data.get("signature"):
        return data, TokenSource.NONE
    if kept:
        data["webhook_token"] = kept
        return data, TokenSource.KEPT
    data["webhook_token"] = new_webhook_token()
    return data, TokenSource.GENERATED


def restore_masked_secrets(data: dict[str, Any], stored: dict[str, Any] | None, mask: str) -> dict[str, Any]:
    """A masked value (as `channel get` prints it) stands for the stored one, so `get > f; edit f; put f` never
    overwrites a token with its mask.

    Raises:
        AdminError: a masked value with nothing stored behind it.
    """
    data, stored = dict(data), stored or {}
    if data.get("webhook_token") == mask:
        if not stored.get("webhook_token"):
            raise AdminError(f"webhook_token is the mask {mask} but the channel has no stored token: give a token, "
                             "or leave the key out to have one generated")
        data["webhook_token"] = stored["webhook_token"]
    signature = data.get("signature")
    if isinstance(signature, dict):
        stored_signature = stored.get("signature") or {}
        signature = dict(signature)
        for key, value in signature.items():
            if value == mask:
                if key not in stored_signature:
                    raise AdminError(f"signature.{key} is the mask {mask} but no value is stored: give the real value")
                signature[key] = stored_signature[key]
        data["signature"] = signature
    return data


def channel_item(table: str, channel_id: str) -> dict[str, Any] | None:
    """The stored channel as is (even one that fails validation, so that the admin can see and fix it)."""
    return ConfigTable(table, "channel_id").get(channel_id)


def channel_items(table: str) -> list[dict[str, Any]]:
    return sorted(ConfigTable(table, "channel_id").scan_all(), key=lambda i: str(i.get("channel_id")))


def listed_channels(table: str) -> list[Listed[Channel]]:
    return [_listed("channel", i) for i in channel_items(table)]


def delete_channel(table: str, channel_id: str) -> bool:
    """Remove the channel; its webhooks then answer 404. Returns False when there was no such channel."""
    deleted = ConfigTable(table, "channel_id").delete(channel_id)
    clear_channel_cache()
    return deleted


# ---------------------------------------------------------------------------------------------------------- operator
def put_operator(table: str, data: dict[str, Any]) -> Operator:
    """Validate and store an operator with its derived index keys (a stored item's own keys are recomputed)."""
    operator = Operator.from_item(data)
    ConfigTable(table, "user_id", "N").put(operator.item())
    return operator


def update_operator(table: str, user_id: int, changes: dict[str, Any]) -> Operator:
    """The stored operator with `changes` on top (a new one when none is stored), validated and stored."""
    current = get_operator(table, user_id)
    return put_operator(table, (current.model_dump(mode="json", exclude_none=True) if current else {}) | changes)


def operators_sharing_email(table: str, operator: Operator) -> list[int]:
    """Other operators with the same email (assignment then picks the lowest active user_id)."""
    return [o.user_id for o in find_operator_by_email(table, normalize_email(operator.email))
            if o.user_id != operator.user_id]


def operator(table: str, user_id: int) -> tuple[Operator | InvalidItem | None, dict[str, Any] | None]:
    """The operator as its model reads it (or its problems) and the item as stored; (None, None) when absent."""
    entry = operator_entry(table, user_id)
    return entry, (operator_item(table, user_id) if entry is not None else None)


def operator_items(table: str) -> list[Operator | InvalidItem]:
    """Every operator, an invalid item (written by hand with a typo) marked as such with its problems rather than
    failing the listing."""
    entries = [read_operator_item(i) for i in ConfigTable(table, "user_id", "N").scan_all()]
    return sorted(entries, key=lambda e: str(e.user_id if isinstance(e, Operator) else e.item_id).zfill(20))


# ------------------------------------------------------------------------------------------------------------- topic
def put_topic(table: str, data: dict[str, Any]) -> Topic:
    topic = Topic.model_validate(data)
    ConfigTable(table, "alias").put(topic.model_dump(mode="json"))
    return topic


def topic_items(table: str) -> list[Topic | InvalidItem]:
    entries: list[Topic | InvalidItem] = []
    for item in ConfigTable(table, "alias").scan_all():
        try:
            entries.append(Topic.model_validate(item))
        except ValidationError as exc:
            entries.append(InvalidItem(item_id=str(item.get("alias")), problems=problems_of(exc, Topic)))
    return sorted(entries, key=lambda e: e.alias if isinstance(e, Topic) else e.item_id)


# ------------------------------------------------------------------------------------------------------------ action
def put_action(table: str, data: dict[str, Any], *, expected_version: int | None = None) -> HttpAction | LambdaAction:
    """Validate and store an action, bumping its version; conditional on `expected_version` like put_channel.

    Raises:
        pydantic.ValidationError: the item is invalid; nothing is written.
        VersionConflictError: someone saved the action since version `expected_version`.
    """
    action = parse_action(data)
    return _save_versioned(ConfigTable(table, "action_id"), action.action_id, action, expected_version)


def action_item(table: str, action_id: str) -> dict[str, Any] | None:
    return ConfigTable(table, "action_id").get(action_id)


def action_items(table: str) -> list[dict[str, Any]]:
    return sorted(ConfigTable(table, "action_id").scan_all(), key=lambda i: str(i.get("action_id")))


def listed_actions(table: str) -> list[Listed[HttpAction | LambdaAction]]:
    return [_listed("action", i) for i in action_items(table)]


# ------------------------------------------------------------------------------------------------- versioned writes
def _save_versioned[VersionedItem: BaseModel](store: ConfigTable, item_id: str, item: VersionedItem,
                                              expected_version: int | None) -> VersionedItem:
    """Store `item` as the next version: refused if `expected_version` is given and stale, and conditional on the
    version read, so two admins saving at once cannot silently overwrite each other."""
    current = store.get(item_id)
    version = int(current.get("version", 0)) if current else 0
    if expected_version is not None and expected_version != version:
        raise VersionConflictError(f"{item_id} is at version {version}, not {expected_version}")
    saved = item.model_copy(update={"version": version + 1})
    store.put(saved.model_dump(mode="json", exclude_none=True), expected_version=version if current else None)
    return saved


# ---------------------------------------------------------------------------------------------------------- settings
def set_setting(table: str, key: str, value: Any) -> None:
    ConfigTable(table, "key").put({"key": key, "value": value})


def setting_items(table: str) -> dict[str, Any]:
    """The settings as stored (no defaults)."""
    return {str(i["key"]): i.get("value") for i in ConfigTable(table, "key").scan_all()}


def settings_view(table: str) -> list[SettingValue]:
    """Every stored setting and every known one that is not stored (with the default the services apply)."""
    stored = setting_items(table)
    merged = {k: SettingValue(key=k, value=s.default, default=True) for k, s in KNOWN_SETTINGS.items()}
    merged |= {k: SettingValue(key=k, value=v, default=False) for k, v in stored.items()}
    return [merged[k] for k in sorted(merged)]


def setting(table: str, key: str) -> SettingValue:
    """One setting: stored, or the default of a known one.

    Raises:
        AdminError: no such setting stored, and callhook knows no such setting.
    """
    item = ConfigTable(table, "key").get(key)
    if item is not None:
        return SettingValue(key=key, value=item.get("value"), default=False)
    if key not in KNOWN_SETTINGS:
        raise AdminError(f"no setting {key!r}; known: {', '.join(sorted(KNOWN_SETTINGS))}")
    return SettingValue(key=key, value=KNOWN_SETTINGS[key].default, default=True)


def parse_setting(key: str, value: Any, *, force: bool = False) -> Any:
    """The value a known setting must hold (`"2"` -> 2 for an operator id).

    Raises:
        ValueError: an unknown key (unless `force`) or a value of the wrong type.
    """
    known = KNOWN_SETTINGS.get(key)
    if known is None:
        if force:
            return value
        raise ValueError(f"unknown setting {key!r}; known: {', '.join(sorted(KNOWN_SETTINGS))} (use --force to "
                         "write another key anyway)")
    if known.kind is int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValueError(f"{key} must be an integer ({known.meaning}), not {value!r}") from None
        if number < 0:
            raise ValueError(f"{key} must be >= 0, not {number}")
        return number
    return value


def setting_warning(key: str, value: Any, operators_table: str) -> str | None:
    """What makes a just-written setting not do what the admin expects (the default operator does not exist, ...)."""
    if key != DEFAULT_OPERATOR_SETTING:
        return None
    entry = operator_entry(operators_table, value)
    if entry is None:
        return f"operator {value} does not exist"
    if isinstance(entry, InvalidItem):
        return f"operator {value}'s item is invalid: {entry.summary()}"
    if not entry.active:
        return f"operator {value} is inactive"
    return None


def check_stored(kind: ItemKind, table: str, item_id: str | None = None) -> list[ItemCheck]:
    """`callhook channel check` / `action check`: the verdict on one stored item or on every item of the table
    (services/config_check.check_stored over the table). Raises LookupError: `item_id` names no item."""
    return check_items(kind, ConfigTable(table, KEYS[kind]), item_id)
