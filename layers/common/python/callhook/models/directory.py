"""Operators, topics and instance settings: what assignment and topic steps resolve against.

Admins write these items in the DynamoDB console as often as with the CLI (docs/items.md), so a stored item is read
as the console leaves it: an email in any case with spaces around it, `ext` as a string or a number, optional
attributes absent. The operators table's indexes are on *derived* attributes (`email_key`, `ext_key`) that
callhook maintains for every writer (the NormalizeOperator function on the table's stream); nothing the workflow
needs depends on them being there yet (callhook.repositories.config falls back to a scan).

The models build their validators on first use (`defer_build`): ingest imports this module with
callhook.repositories.config but never validates an operator, a topic or a setting (its cold import).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from callhook.models.problems import InvalidItem, problems_of

DEFAULT_OPERATOR_SETTING = "telephony_autotranscribe_default_operator_id"
DEFAULT_OPERATOR_ID = 1  # the root admin (the seed)


OPERATOR_DERIVED_ATTRIBUTES = ("email_key", "ext_key")
"""Index keys callhook writes on operator items; never part of what an admin writes, never read as the operator."""


def normalize_email(email: str) -> str:
    """How emails are compared: case and surrounding spaces ignored (docs/workflow.md)."""
    return email.strip().lower()


def normalize_ext(value: Any) -> str | None:
    """An extension as compared and indexed: the text of a string or of a whole number (`101` and `"101"` are
    the same extension), spaces stripped; None for no extension or a value that cannot be one (bool, fraction)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    if isinstance(value, int | str):
        text = str(value).strip()
        return text or None
    return None


def operator_derived_attributes(item: dict[str, Any]) -> dict[str, str | None]:
    """The derived attributes an operator item should carry (None: should not carry it), from its own fields."""
    email = item.get("email")
    return {"email_key": normalize_email(email) if isinstance(email, str) and email.strip() else None,
            "ext_key": normalize_ext(item.get("ext"))}


def parse_operator_id(value: Any) -> int | None:
    """A user id given as a number or a numeric string (the console writes either); None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        return int(text) if text.isdigit() else None
    return None


class Operator(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    user_id: int = Field(ge=0)
    email: str = Field(min_length=3)
    active: bool = True
    name: str = ""
    ext: str | None = None

    @field_validator("email")
    @classmethod
    def _looks_like_email(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError(f"not an email address: {value!r}")
        return value.strip()

    @field_validator("ext", mode="before")
    @classmethod
    def _ext_as_string(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        ext = normalize_ext(value)
        if ext is None:
            raise ValueError(f"an extension is a string or a whole number, not {value!r}")
        return ext

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Operator:
        """The operator of a stored item (derived attributes left out).

        Raises:
            pydantic.ValidationError: the item is not a valid operator (every field path named).
        """
        return cls.model_validate({k: v for k, v in item.items() if k not in OPERATOR_DERIVED_ATTRIBUTES})

    def item(self) -> dict[str, Any]:
        """The stored item with its derived index keys, so a CLI write is findable at once (the stream function
        computes the same keys for items written any other way)."""
        item = self.model_dump(mode="json", exclude_none=True)
        item |= {k: v for k, v in operator_derived_attributes(item).items() if v is not None}
        return item


def read_operator_item(item: dict[str, Any]) -> Operator | InvalidItem:
    """The operator of a stored item, or the item marked invalid with every problem: one broken item written in
    the console must not break a listing or the workflow of calls that reach it."""
    try:
        return Operator.from_item(item)
    except ValidationError as exc:
        return InvalidItem(item_id=str(item.get("user_id")), problems=problems_of(exc, Operator))


class OperatorLookup(BaseModel):
    """The operators an email or extension matched, and the matching items that are invalid (skipped, reported)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    operators: list[Operator] = Field(default_factory=list)
    invalid: list[InvalidItem] = Field(default_factory=list)
    scanned: bool = False  # found by the fallback scan: the item's derived attributes were not there (yet)


class Topic(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    alias: str = Field(min_length=1)
    name: str = ""


class Setting(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    key: str = Field(min_length=1)
    value: Any
