"""Kept requests become dialogs: held events once their channel item is valid again, spooled requests once the
tables take writes again.

Both were authenticated when they arrived and were kept without their credentials. Each is processed exactly as
ingest would have processed it then (`accept_authenticated` with its arrival time), in arrival order, so the same
call gives the same dialog id, the same workflow and the same answer to a later provider retry (`duplicate`).
Processing is idempotent (conditional dialog writes, fill-empty updates, named executions): the channel stream and
the reconciler may both run it at once.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, Field

from callhook.errors import (
    ChannelMisconfiguredError,
    ChannelNotFoundError,
    DependencyUnavailableError,
    DialogStoreUnavailableError,
    WebhookRejectedError,
)
from callhook.models.channel import Channel
from callhook.models.event import RawEvent, RawEventKind
from callhook.observability import logger
from callhook.repositories.config import ConfigTable
from callhook.repositories.dialogs import utc_now
from callhook.repositories.events import EventRepository
from callhook.repositories.spool import SpoolStore
from callhook.services.ingest import (
    accept_authenticated,
    load_channel,
    rejected_event,
    webhook_request_from,
)
from callhook.settings import IngestSettings


class KeptReport(BaseModel):
    """What one pass did: event ids that became dialogs (or their rejection), and what is still waiting."""

    released: list[str] = Field(default_factory=list)  # held events processed
    still_held: list[str] = Field(default_factory=list)  # channels whose item is still invalid
    spool_processed: list[str] = Field(default_factory=list)  # spooled requests processed (event ids)
    spool_waiting: int = 0  # spooled requests left for the next pass (the tables still fail)


def release_held(channel_id: str, settings: IngestSettings, *, batch: int = 100) -> KeptReport:
    """Process the channel's held events, oldest first, if its item is valid now; else leave them held.

    Stops at the first event the tables cannot take, so that later events never overtake an earlier one (an update
    must not arrive before its call).
    """
    report = KeptReport()
    fresh = settings.model_copy(update={"channel_cache_seconds": 0})
    try:
        channel = load_channel(channel_id, fresh)
    except (ChannelMisconfiguredError, ChannelNotFoundError):
        report.still_held.append(channel_id)
        return report
    events = EventRepository(settings.events_table)
    # The index is eventually consistent: a page may still list events just released. Stop when it lists nothing new.
    while fresh_events := [e for e in events.held(channel_id, limit=batch) if e.event_id not in report.released]:
        for event in fresh_events:
            if not _release(event, channel, events, fresh):
                return report
            report.released.append(event.event_id)
    if report.released:
        logger.info("held webhooks released", channel_id=channel_id, count=len(report.released))
    return report


def _release(event: RawEvent, channel: Channel, events: EventRepository, settings: IngestSettings) -> bool:
    """One held event through ingest; False when the tables failed (the event stays held for the next pass)."""
    request = webhook_request_from(event.channel_id, event.request)
    try:
        answer = accept_authenticated(channel, request, settings, received_at=event.received_at)
    except WebhookRejectedError as exc:  # what it would have been answered then: kept as a rejected raw event
        events.mark(event.event_id, RawEventKind.REJECTED, remove=("held_channel",), reason=exc.reason,
                    message=exc.message, status_code=exc.status_code, released_at=utc_now())
        return True
    except (DependencyUnavailableError, DialogStoreUnavailableError) as exc:
        logger.warning("held webhook not released yet: the tables failed", event_id=event.event_id, error=str(exc))
        return False
    marks: dict[str, object] = {"released_at": utc_now(), "release_status": answer.status}
    if answer.dialog_id:
        marks["dialog_id"] = answer.dialog_id
    events.mark(event.event_id, RawEventKind.RELEASED, remove=("held_channel",), **marks)
    return True


def release_all_held(settings: IngestSettings) -> KeptReport:
    """The safety net behind the channels table's stream: every channel's held events (the table is small)."""
    report = KeptReport()
    for item in ConfigTable(settings.channels_table, "channel_id").scan_all():
        channel_id = str(item.get("channel_id", ""))
        if not channel_id or not EventRepository(settings.events_table).held(channel_id, limit=1):
            continue
        one = release_held(channel_id, settings)
        report.released += one.released
        report.still_held += one.still_held
    return report


def drain_spool(settings: IngestSettings, *, page: int = 100, budget_s: float = 60) -> KeptReport:
    """Turn spooled requests into what they would have been, oldest first, page after page for up to `budget_s`
    (the reconciler's timeout leaves room for its other work); stop while the tables still fail."""
    report = KeptReport()
    spool = SpoolStore(settings.recordings_bucket)
    deadline = time.monotonic() + budget_s
    while time.monotonic() < deadline and (keys := spool.keys(limit=page)):
        for position, key in enumerate(keys):
            try:
                event_id = _process_spooled(spool, key, settings)
            except (DependencyUnavailableError, DialogStoreUnavailableError) as exc:
                logger.warning("spooled webhooks wait: the tables still fail", error=str(exc))
                report.spool_waiting = len(keys) - position
                return report
            if event_id:
                report.spool_processed.append(event_id)
    if report.spool_processed:
        logger.info("spooled webhooks processed", count=len(report.spool_processed))
    return report


def _process_spooled(spool: SpoolStore, key: str, settings: IngestSettings) -> str | None:
    """One spooled request through ingest, then out of the spool; its event id (None: another pass took it).

    Raises:
        DependencyUnavailableError, DialogStoreUnavailableError: the tables still fail (it stays spooled).
    """
    record = spool.get(key)
    if record is None:
        return None
    events = EventRepository(settings.events_table)
    fresh = settings.model_copy(update={"channel_cache_seconds": 0})
    request = webhook_request_from(record.channel_id, record.request)
    try:
        channel = load_channel(record.channel_id, fresh)
    except ChannelMisconfiguredError as exc:  # broken since: held, as it would be if it arrived now
        events.put(RawEvent(event_id=record.event_id, channel_id=record.channel_id, received_at=record.received_at,
                            kind=RawEventKind.HELD, held_channel=record.channel_id, reason="channel_misconfigured",
                            message=exc.message, request=record.request))
    except ChannelNotFoundError as exc:  # deleted since: kept visible rather than dropped
        events.put(rejected_event(request, exc, received_at=record.received_at, event_id=record.event_id))
    else:
        try:
            accept_authenticated(channel, request, fresh, received_at=record.received_at)
        except WebhookRejectedError as exc:
            if exc.store_raw_event:
                events.put(rejected_event(request, exc, received_at=record.received_at, event_id=record.event_id))
    spool.delete(key)
    return record.event_id
