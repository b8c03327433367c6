"""What every command gets: the output settings and the target, resolved on first use (`preset` needs no AWS)."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import typer

from callhook_cli.output import Output
from callhook_cli.target import DEFAULT_LOCAL_PORT, Target, TargetOptions, resolve


@dataclass
class State:
    options: TargetOptions = field(default_factory=TargetOptions)
    out: Output = field(default_factory=Output)
    _target: Target | None = None

    def target(self) -> Target:
        if self._target is None:
            self._target = resolve(self.options)
        return self._target

    def command(self, args: str) -> str:
        """A command line for a hint that works as pasted: the program as it was run, and the same target."""
        return " ".join([*_local_port_prefix(self.options), program(), *_target_flags(self.options), args])


def program(argv0: str | None = None) -> str:
    """`callhook` when that name on PATH is the running script; else the path it was run by (`.venv/bin/callhook`
    from the repository without an activated venv), so that a printed hint runs where the user is."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    if Path(argv0).name != "callhook":
        return "callhook"
    on_path = shutil.which("callhook")
    if on_path and Path(on_path).resolve() == Path(argv0).resolve():
        return "callhook"
    return shlex.quote(argv0)


def _local_port_prefix(options: TargetOptions) -> list[str]:
    port = os.environ.get("CALLHOOK_AWS_PORT")
    return [f"CALLHOOK_AWS_PORT={port}"] if options.local and port and port != str(DEFAULT_LOCAL_PORT) else []


def _target_flags(options: TargetOptions) -> list[str]:
    flags = ["--local"] if options.local else []
    for name, value in (("--stack", options.stack), ("--env", options.env), ("--profile", options.profile),
                        ("--region", options.region)):
        if value:
            flags += [name, shlex.quote(value)]
    return flags


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj
