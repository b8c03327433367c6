"""The adapters of the webhook path's own ports (`callhook.ports`: IngestChannels, NewDialogs, EventLog).

Ingest keeps every authenticated request somewhere: a dialog, else a raw event, else the spool, else it answers 503.
So for its writes any AWS failure means "this store cannot take it now", whatever the code: the translation is
`callhook.aws_errors.unavailable`, here, once; the service only sees DependencyUnavailableError (and a duplicate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callhook.aws_errors import unavailable
from callhook.models.channel import Channel
from callhook.models.dialog import Dialog
from callhook.models.event import RawEvent, RawEventKind
from callhook.repositories.config import ConfigTable, get_channel
from callhook.repositories.dialogs import DialogRepository
from callhook.repositories.events import EventRepository


@dataclass(frozen=True)
class CachedChannels:
    """The channels table, its items cached `cache_seconds` per sandbox (repositories/config.get_channel); 0 reads
    fresh, as the processing of kept requests and replays do."""

    table: str
    cache_seconds: float = 0

    def get(self, channel_id: str, *, fresh: bool = False) -> Channel | None:
        return get_channel(self.table, channel_id, cache_seconds=self.cache_seconds, fresh=fresh)

    def item(self, channel_id: str) -> dict[str, Any] | None:
        return ConfigTable(self.table, "channel_id").get(channel_id)


@dataclass(frozen=True)
class IngestDialogs:
    table: str

    def put_new(self, dialog: Dialog) -> None:
        with unavailable("store dialog", "DynamoDB"):
            DialogRepository(self.table).put_new(dialog)

    def fill_telephony(self, dialog_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        with unavailable("update dialog telephony", "DynamoDB"):
            filled = DialogRepository(self.table).fill_telephony(dialog_id, fields)
        return filled


@dataclass(frozen=True)
class IngestEvents:
    table: str

    def put(self, event: RawEvent) -> None:
        with unavailable("store raw event", "DynamoDB"):
            EventRepository(self.table).put(event)

    def mark(self, event_id: str, kind: RawEventKind, *, remove: tuple[str, ...] = (), **fields: Any) -> None:
        with unavailable("update raw event", "DynamoDB"):
            EventRepository(self.table).mark(event_id, kind, remove=remove, **fields)
