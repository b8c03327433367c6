"""How a dialog's executions are named: the dialog id for the first run, `<dialog_id>-r<N>` for replay N, so a
dialog's executions are found by describing those names in order (services/history.py, services/replay.py)."""

from __future__ import annotations

REPLAY_SEPARATOR = "-r"


def execution_name(dialog_id: str, replay: int = 0) -> str:
    """The name of a dialog's execution: the dialog id for the first run, `<dialog_id>-r<N>` for replay N."""
    return dialog_id if replay == 0 else f"{dialog_id}{REPLAY_SEPARATOR}{replay}"
