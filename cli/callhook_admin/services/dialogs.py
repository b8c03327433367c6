"""Dialogs and raw events as the admin reads them: one dialog, a channel's dialogs or raw events, page by page.

Over ports (`callhook_admin.ports`): the CLI hands in the tables' adapters (callhook_cli/wiring.py)."""

from __future__ import annotations

from callhook.models.dialog import Dialog, make_dialog_id
from callhook.models.event import RawEvent, RawEventKind
from callhook.ports import PayloadReader
from callhook.services.payloads import with_raw
from callhook_admin.ports import DialogLookup, DialogPages, EventPages, Page


def get_dialog(dialogs: DialogLookup, dialog_id: str, payloads: PayloadReader) -> Dialog | None:
    """The dialog with all its data: a provider's body too large for the item is read from the bucket."""
    dialog = dialogs.get(dialog_id)
    return None if dialog is None else with_raw(dialog, payloads)


def find_dialog(dialogs: DialogLookup, channel_id: str, call_id: str,
                payloads: PayloadReader) -> tuple[str, Dialog | None]:
    """The dialog of a provider's call: its id (derived from channel and call id) and the dialog, if any."""
    dialog_id = make_dialog_id(channel_id, call_id)
    return dialog_id, get_dialog(dialogs, dialog_id, payloads)


def list_dialogs(dialogs: DialogPages, channel_id: str, *, since: str | None, until: str | None, limit: int,
                 start: Page) -> tuple[list[Dialog], Page]:
    """Newest first, through the by-channel index."""
    return dialogs.list_by_channel(channel_id, since=since, until=until, limit=limit, start_key=start)


def list_events(events: EventPages, channel_id: str, *, limit: int, start: Page,
                set_aside: bool = False) -> tuple[list[RawEvent], Page]:
    """Newest first, through the by-channel index; `set_aside`: only the kept requests that failed for a reason
    of their own (services/kept.py), each with that reason."""
    return events.list_by_channel(channel_id, limit=limit, start_key=start,
                                  kind=RawEventKind.SET_ASIDE if set_aside else None)
