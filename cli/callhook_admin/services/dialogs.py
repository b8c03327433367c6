"""Dialogs and raw events as the admin reads them: one dialog, a channel's dialogs or raw events, page by page."""

from __future__ import annotations

from typing import Any

from callhook.models.dialog import Dialog, make_dialog_id
from callhook.models.event import RawEvent
from callhook.repositories.dialogs import DialogRepository
from callhook.repositories.events import EventRepository

Page = dict[str, Any] | None  # where the next page starts (DynamoDB's LastEvaluatedKey); None: no more


def get_dialog(dialogs_table: str, dialog_id: str) -> Dialog | None:
    return DialogRepository(dialogs_table).get(dialog_id)


def find_dialog(dialogs_table: str, channel_id: str, call_id: str) -> tuple[str, Dialog | None]:
    """The dialog of a provider's call: its id (derived from channel and call id) and the dialog, if any."""
    dialog_id = make_dialog_id(channel_id, call_id)
    return dialog_id, get_dialog(dialogs_table, dialog_id)


def list_dialogs(dialogs_table: str, channel_id: str, *, since: str | None, until: str | None, limit: int,
                 start: Page) -> tuple[list[Dialog], Page]:
    """Newest first, through the by-channel index."""
    return DialogRepository(dialogs_table).list_by_channel(channel_id, since=since, until=until, limit=limit,
                                                           start_key=start)


def list_events(events_table: str, channel_id: str, *, limit: int, start: Page) -> tuple[list[RawEvent], Page]:
    """Newest first, through the by-channel index."""
    return EventRepository(events_table).list_by_channel(channel_id, limit=limit, start_key=start)
