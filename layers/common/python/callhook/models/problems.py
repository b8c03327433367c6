"""What is wrong with a stored configuration item, one problem per field path.

The same list is logged by the stream-triggered check, printed by `callhook channel check` / `action check`, shown
by `list` commands and written into a dialog when an invalid operator was skipped: one wording everywhere.
Built on first use (`defer_build`): ingest imports this module but never reports an invalid operator (cold import).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError


class ItemProblem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    path: str  # e.g. "advanced_config.field_mapping.caller"; "(item)" for the item as a whole
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class InvalidItem(BaseModel):
    """A stored item that fails validation: its key and every problem."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    item_id: str
    problems: list[ItemProblem]

    def summary(self) -> str:
        return "; ".join(str(p) for p in self.problems)


def problems_of(exc: ValidationError) -> list[ItemProblem]:
    """One problem per pydantic error, with its dotted field path (pydantic's "Value error, " prefix dropped)."""
    return [ItemProblem(path=".".join(str(p) for p in err["loc"]) or "(item)",
                        message=str(err["msg"]).removeprefix("Value error, ")) for err in exc.errors()]
