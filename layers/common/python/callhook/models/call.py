"""The canonical call: the `telephony` block every provider's webhook is mapped to (docs/items.md)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CanonicalField = Literal[
    "call_id",
    "direction",
    "caller",
    "callee",
    "started_at",
    "duration",
    "status",
    "recording_url",
    "operator_email",
    "operator_ext",
]
CANONICAL_FIELDS: tuple[str, ...] = CanonicalField.__args__  # type: ignore[attr-defined]


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Telephony(BaseModel):
    """The `telephony` block: canonical fields plus `raw`, the provider's parsed body."""

    model_config = ConfigDict(extra="forbid")

    call_id: str = Field(min_length=1)
    direction: Direction | None = None
    caller: str | None = None
    callee: str | None = None
    started_at: str | None = None  # ISO-8601 UTC, e.g. 2026-11-25T01:10:23Z
    duration: int | None = None  # seconds
    status: str | None = None
    recording_url: str | None = None
    operator_email: str | None = None
    operator_ext: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict)

    def canonical(self) -> dict[str, Any]:
        """The canonical fields that have a value (what an update may fill)."""
        return {k: v for k, v in self.model_dump(mode="json", exclude={"raw"}).items() if v is not None}


class MappingWarning(BaseModel):
    """A mapped value that could not be coerced to its field's type: the field is left null."""

    model_config = ConfigDict(extra="forbid")

    field: str
    value: Any = None
    reason: str
