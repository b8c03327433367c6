"""What every workflow step shares: load the dialog it works on."""

from __future__ import annotations

from callhook.errors import DialogNotFoundError
from callhook.models.dialog import Dialog
from callhook.ports import Dialogs


def load_dialog(dialogs: Dialogs, dialog_id: str) -> Dialog:
    """Raises DialogNotFoundError: the execution was started for a dialog that is not stored (never expected)."""
    dialog = dialogs.get(dialog_id)
    if dialog is None:
        raise DialogNotFoundError(f"dialog {dialog_id} is not in the dialogs table")
    return dialog
