"""A function for the SnapStart emulation's tests: what it made at init, and what its hooks made again.

At init it draws a token from `random` and records its process id; its before-snapshot hook counts its runs; its
after-restore hook (registered unless PROBE_NO_AFTER_RESTORE is set) reseeds `random` and makes the token again, as
AWS's "Handling uniqueness" page asks of anything unique made at init. The handler answers all of it, with a draw
from `random` now.
"""

from __future__ import annotations

import os
import random
from typing import Any

from snapshot_restore_py import register_after_restore, register_before_snapshot

made: dict[str, Any] = {"init_pid": os.getpid(), "init_token": random.getrandbits(64), "before_snapshot": 0,
                        "after_restore": 0}
made["token"] = made["init_token"]


@register_before_snapshot
def before_snapshot() -> None:
    made["before_snapshot"] += 1


def after_restore() -> None:
    random.seed()
    made["token"] = random.getrandbits(64)
    made["after_restore"] += 1


if not os.environ.get("PROBE_NO_AFTER_RESTORE"):
    register_after_restore(after_restore)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return made | {"pid": os.getpid(), "draw": random.getrandbits(64),
                   "initialization_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
                   "log_names_in_env": sorted(k for k in os.environ if k.startswith("AWS_LAMBDA_LOG_")),
                   "log_stream": context.log_stream_name}
