"""One validation of stored configuration items, whoever wrote them (CLI or DynamoDB console).

The check of an item is the model the functions parse it with (callhook.models: channel with its preset merged,
action), so "valid here" means "works on the webhook path and in the workflow". Three doors use it:

* the CheckConfig function on the channels' and actions' streams: an item saved invalid (typically by hand in the
  console) is logged with every invalid field path and counted in the `InvalidConfigItem` metric (alarmed);
* `callhook channel check [ID]` / `callhook action check [ID]`: the same lines, exit 1 when any item is invalid;
* `callhook channel list` / `action list`: invalid items are marked rather than failing the listing.

Pure (docs/design.md): the items arrive decoded (the stream's by repositories/streams.py, the table's through the
`ConfigItems` port), so a verdict is proved on plain dicts.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from callhook.models.action import HttpAction, LambdaAction, parse_action
from callhook.models.channel import Channel
from callhook.models.problems import ItemProblem, problems_of
from callhook.ports import ConfigItems, WrittenItem

ItemKind = Literal["channel", "action"]
KEYS: dict[ItemKind, str] = {"channel": "channel_id", "action": "action_id"}


class ItemCheck(BaseModel):
    """The verdict on one stored item."""

    model_config = ConfigDict(extra="forbid")

    kind: ItemKind
    item_id: str
    valid: bool
    problems: list[ItemProblem] = Field(default_factory=list)

    @property
    def invalid_fields(self) -> list[str]:
        return [p.path for p in self.problems]


def channel_problems(item: dict[str, Any]) -> list[ItemProblem]:
    """Every problem of a stored channel item, each with its field path (empty: the item is valid)."""
    try:
        Channel.model_validate(item)  # runs the preset merge too (Channel._valid_with_its_preset)
    except ValidationError as exc:
        return problems_of(exc, Channel)
    return []


def action_problems(item: dict[str, Any]) -> list[ItemProblem]:
    try:
        parse_action(item)
    except ValidationError as exc:
        return problems_of(exc, HttpAction | LambdaAction)
    return []


def check_item(kind: ItemKind, item: dict[str, Any]) -> ItemCheck:
    problems = channel_problems(item) if kind == "channel" else action_problems(item)
    return ItemCheck(kind=kind, item_id=str(item.get(KEYS[kind])), valid=not problems, problems=problems)


def check_stored(kind: ItemKind, store: ConfigItems, item_id: str | None = None) -> list[ItemCheck]:
    """The verdict on one stored item (`item_id`), or on every item of the table, in key order.

    Raises:
        LookupError: `item_id` names no item.
    """
    if item_id is not None:
        item = store.get(item_id)
        if item is None:
            raise LookupError(f"no {kind} {item_id!r}")
        return [check_item(kind, item)]
    return [check_item(kind, item) for item in sorted(store.scan_all(), key=lambda i: str(i.get(KEYS[kind])))]


def check_written(written: list[WrittenItem]) -> list[ItemCheck]:
    """The verdict on each channel or action a stream batch wrote (removals have nothing to check). The kind comes
    from the item's key, so one function serves both tables' streams."""
    checks = []
    for each in written:
        kind: ItemKind | None = next((k for k, key in KEYS.items() if key in each.keys), None)
        if kind is not None:
            checks.append(check_item(kind, each.item))
    return checks
