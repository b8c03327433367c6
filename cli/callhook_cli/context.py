"""What every command gets: the output settings and the target, resolved on first use (`preset` needs no AWS)."""

from __future__ import annotations

from dataclasses import dataclass, field

import typer

from callhook_cli.output import Output
from callhook_cli.target import Target, TargetOptions, resolve


@dataclass
class State:
    options: TargetOptions = field(default_factory=TargetOptions)
    out: Output = field(default_factory=Output)
    _target: Target | None = None

    def target(self) -> Target:
        if self._target is None:
            self._target = resolve(self.options)
        return self._target


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj
