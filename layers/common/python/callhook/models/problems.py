"""What is wrong with a stored configuration item, one problem per field path.

The same list is logged by the stream-triggered check, printed by `callhook channel check` / `action check`, shown
by `list` commands and written into a dialog when an invalid operator was skipped: one wording everywhere.
Built on first use (`defer_build`): ingest imports this module but never reports an invalid operator (cold import).
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

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


def problems_of(exc: ValidationError, model: Any = None) -> list[ItemProblem]:
    """One problem per pydantic error, with its dotted field path (pydantic's "Value error, " prefix dropped).

    With the `model` that was validated (a model class, or a union of them), a field the model does not have gets
    the nearest one it has: `enrich_error_acton` is refused with "did you mean `enrich_error_action`?".
    """
    problems = []
    for err in exc.errors():
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and model is not None and err["loc"]:
            *parent, name = err["loc"]
            if isinstance(name, str):
                close = difflib.get_close_matches(name, sorted(field_names(model, tuple(parent))), n=1, cutoff=0.6)
                if close:
                    message += f"; did you mean `{close[0]}`?"
        problems.append(ItemProblem(path=".".join(str(p) for p in err["loc"]) or "(item)", message=message))
    return problems


def field_names(model: Any, path: tuple[str | int, ...] = ()) -> set[str]:
    """The field names (aliases where set) the model accepts at `path`, through nested models, lists and dicts."""
    candidates = [model]
    for step in path:
        candidates = [inner for t in candidates for member in _members(t) for inner in _step(member, step)]
    names: set[str] = set()
    for t in candidates:
        for member in _members(t):
            if isinstance(member, type) and issubclass(member, BaseModel):
                names |= {field.alias or name for name, field in member.model_fields.items()}
    return names


def _members(annotation: Any) -> list[Any]:
    """The types an annotation stands for: Annotated unwrapped, each member of a union (None dropped)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin is typing.Union or isinstance(annotation, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [] if annotation is type(None) else [annotation]


def _step(annotation: Any, step: str | int) -> list[Any]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (list, tuple, set, frozenset) and isinstance(step, int) and args:
        return [args[0]]
    if origin is dict and len(args) == 2:
        return [args[1]]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(step, str):
        for name, field in annotation.model_fields.items():
            if step in (name, field.alias):
                return [field.annotation]
    return []
