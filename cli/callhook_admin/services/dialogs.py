"""Dialogs and raw events as the admin reads them: one dialog, a channel's dialogs or raw events, page by page.

Over ports (`callhook_admin.ports`): the CLI hands in the tables' adapters (callhook_cli/wiring.py)."""

from __future__ import annotations

from callhook.models.dialog import Dialog, make_dialog_id
from callhook.models.event import RawEvent
from callhook_admin.ports import DialogLookup, DialogPages, EventPages, Page


def get_dialog(dialogs: DialogLookup, dialog_id: str) -> Dialog | None:
    return dialogs.get(dialog_id)


def find_dialog(dialogs: DialogLookup, channel_id: str, call_id: str) -> tuple[str, Dialog | None]:
    """The dialog of a provider's call: its id (derived from channel and call id) and the dialog, if any."""
    dialog_id = make_dialog_id(channel_id, call_id)
    return dialog_id, dialogs.get(dialog_id)


def list_dialogs(dialogs: DialogPages, channel_id: str, *, since: str | None, until: str | None, limit: int,
                 start: Page) -> tuple[list[Dialog], Page]:
    """Newest first, through the by-channel index."""
    return dialogs.list_by_channel(channel_id, since=since, until=until, limit=limit, start_key=start)


def list_events(events: EventPages, channel_id: str, *, limit: int, start: Page) -> tuple[list[RawEvent], Page]:
    """Newest first, through the by-channel index."""
    return events.list_by_channel(channel_id, limit=limit, start_key=start)
