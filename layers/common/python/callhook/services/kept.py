"""Kept requests become dialogs: held events once their channel item is valid again, spooled requests once the
tables take writes again.

Both were authenticated when they arrived and were kept without their credentials. Each is processed exactly as
ingest would have processed it then (`accept_authenticated` with its arrival time), in arrival order, so the same
call gives the same dialog id, the same workflow and the same answer to a later provider retry (`duplicate`).
Processing is idempotent (conditional dialog writes, fill-empty updates, named executions): the channel stream and
the reconciler may both run it at once.

One request that fails for a reason of its own (the table refuses its item, its record cannot be read, an error of
ours that only its data triggers) never holds up the others: it is set aside, a raw event of kind `set_aside` with
the reason (`callhook events list --channel C --set-aside`, replayable with `callhook events replay`), and the
drain goes on. Only a failure of a store itself (throttled, unreachable, denied) stops a pass, so that nothing
overtakes a request that is still waiting for it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pydantic import BaseModel, Field

from callhook.clock import utc_now
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
from callhook.ports import ChannelIds, Ingest, RawEvents, Spool
from callhook.services.raw_events import rejected_event, set_aside_reason, store_failed, webhook_request_from


@dataclass(frozen=True)
class KeptPorts:
    """What turning kept requests into dialogs needs; built once per sandbox by ReleaseHeld and Reconcile."""

    events: RawEvents
    spool: Spool
    channels: ChannelIds
    ingest: Ingest


class KeptReport(BaseModel):
    """What one pass did: event ids that became dialogs (or their rejection), and what is still waiting."""

    released: list[str] = Field(default_factory=list)  # held events processed
    still_held: list[str] = Field(default_factory=list)  # channels whose item is still invalid
    spool_processed: list[str] = Field(default_factory=list)  # spooled requests processed (event ids)
    spool_waiting: int = 0  # spooled requests left for the next pass (the tables still fail)
    set_aside: list[str] = Field(default_factory=list)  # failed for a reason of their own (event ids, spool keys)


def release_held(channel_id: str, io: KeptPorts, *, batch: int = 100) -> KeptReport:
    """Process the channel's held events, oldest first, if its item is valid now; else leave them held.

    Stops at the first event the tables cannot take, so that later events never overtake an earlier one (an update
    must not arrive before its call); an event that fails for a reason of its own is set aside and the next goes.
    """
    report = KeptReport()
    try:
        channel = io.ingest.channel(channel_id)
    except (ChannelMisconfiguredError, ChannelNotFoundError):
        report.still_held.append(channel_id)
        return report
    # The index is eventually consistent: a page may still list events just released. Stop when it lists nothing new.
    done: set[str] = set()
    while fresh_events := [e for e in io.events.held(channel_id, limit=batch) if e.event_id not in done]:
        for event in fresh_events:
            done.add(event.event_id)
            try:
                if not _release(event, channel, io):
                    return report
            except Exception as exc:  # its own failure: set it aside, release the next
                if store_failed(exc):
                    raise
                _set_aside_held(event, exc, io)
                report.set_aside.append(event.event_id)
                continue
            report.released.append(event.event_id)
    if report.set_aside:
        logger.warning("held webhooks set aside", channel_id=channel_id, event_ids=report.set_aside)
    if report.released:
        logger.info("held webhooks released", channel_id=channel_id, count=len(report.released))
    return report


def _release(event: RawEvent, channel: Channel, io: KeptPorts) -> bool:
    """One held event through ingest; False when the tables failed (the event stays held for the next pass)."""
    request = webhook_request_from(event.channel_id, event.request)
    # Held under the stack's default retention (the item's own could not be read then); now the channel's applies.
    expires = io.ingest.expiry(channel, event.received_at)
    marks: dict[str, object] = {"released_at": utc_now(), **({} if expires is None else {"expires_at": expires})}
    remove = ("held_channel",) if expires is not None else ("held_channel", "expires_at")  # None: kept forever
    try:
        answer = io.ingest.accept(channel, request, event.received_at)
    except WebhookRejectedError as exc:  # what it would have been answered then: kept as a rejected raw event
        io.events.mark(event.event_id, RawEventKind.REJECTED, remove=remove, reason=exc.reason,
                       message=exc.message, status_code=exc.status_code, **marks)
        return True
    except (DependencyUnavailableError, DialogStoreUnavailableError) as exc:
        if not store_failed(exc):
            raise  # the table refused this event's item: set aside by the caller
        logger.warning("held webhook not released yet: the tables failed", event_id=event.event_id, error=str(exc))
        return False
    marks["release_status"] = answer.status
    if answer.dialog_id:
        marks["dialog_id"] = answer.dialog_id
    io.events.mark(event.event_id, RawEventKind.RELEASED, remove=remove, **marks)
    return True


def _set_aside_held(event: RawEvent, exc: BaseException, io: KeptPorts) -> None:
    """Out of the held index, with the reason; `callhook events replay` runs it again once the cause is fixed."""
    code, message = set_aside_reason(exc)
    logger.warning("held webhook set aside", event_id=event.event_id, reason=code, error=message)
    io.events.mark(event.event_id, RawEventKind.SET_ASIDE, remove=("held_channel",), reason=code, message=message,
                   set_aside_from="held")


def release_all_held(io: KeptPorts) -> KeptReport:
    """The safety net behind the channels table's stream: every channel's held events (the table is small)."""
    report = KeptReport()
    for channel_id in io.channels.ids():
        if not io.events.held(channel_id, limit=1):
            continue
        one = release_held(channel_id, io)
        report.released += one.released
        report.still_held += one.still_held
        report.set_aside += one.set_aside
    return report


def drain_spool(io: KeptPorts, *, page: int = 100, budget_s: float = 60) -> KeptReport:
    """Turn spooled requests into what they would have been, oldest first, page after page for up to `budget_s`
    (the reconciler's timeout leaves room for its other work); stop while the tables still fail."""
    report = KeptReport()
    deadline = time.monotonic() + budget_s
    while time.monotonic() < deadline and (keys := io.spool.keys(limit=page)):
        for position, key in enumerate(keys):
            try:
                event_id = _process_spooled(key, io)
            except Exception as exc:
                if store_failed(exc):
                    logger.warning("spooled webhooks wait: the tables still fail", error=str(exc))
                    report.spool_waiting = len(keys) - position
                    return report
                report.set_aside.append(_set_aside_spooled(key, exc, io))
                continue
            if event_id:
                report.spool_processed.append(event_id)
    if report.spool_processed:
        logger.info("spooled webhooks processed", count=len(report.spool_processed))
    return report


def _process_spooled(key: str, io: KeptPorts) -> str | None:
    """One spooled request through ingest, then out of the spool; its event id (None: another pass took it).

    Raises:
        DependencyUnavailableError, DialogStoreUnavailableError: the tables still fail (it stays spooled).
    """
    record = io.spool.get(key)
    if record is None:
        return None
    request = webhook_request_from(record.channel_id, record.request)
    try:
        channel = io.ingest.channel(record.channel_id)
    except ChannelMisconfiguredError as exc:  # broken since: held, as it would be if it arrived now
        io.events.put(RawEvent(event_id=record.event_id, channel_id=record.channel_id,
                               received_at=record.received_at, kind=RawEventKind.HELD,
                               held_channel=record.channel_id, reason="channel_misconfigured", message=exc.message,
                               request=record.request, expires_at=io.ingest.expiry(None, record.received_at)))
    except ChannelNotFoundError as exc:  # deleted since: kept visible rather than dropped
        io.events.put(rejected_event(request, exc, received_at=record.received_at, event_id=record.event_id,
                                     expires=io.ingest.expiry(None, record.received_at)))
    else:
        try:
            io.ingest.accept(channel, request, record.received_at)
        except WebhookRejectedError as exc:
            if exc.store_raw_event:
                io.events.put(rejected_event(request, exc, received_at=record.received_at,
                                             event_id=record.event_id, expires=io.ingest.expiry(channel,
                                                                                                record.received_at)))
    io.spool.delete(key)
    return record.event_id


def _set_aside_spooled(key: str, exc: BaseException, io: KeptPorts) -> str:
    """Out of the spool: a `set_aside` raw event of its channel when its record reads and the table takes it, else
    the object itself moved aside in the bucket (`Spool.set_aside`). Its event id, or the key it was moved to.

    Raises:
        DependencyUnavailableError: a store failed while setting it aside (the pass stops; it is still spooled).
    """
    code, message = set_aside_reason(exc)
    logger.warning("spooled webhook set aside", key=key, reason=code, error=message)
    try:
        record = io.spool.get(key)
    except Exception as unreadable:
        if store_failed(unreadable):
            raise
        record = None
    if record is not None:
        event = RawEvent(event_id=record.event_id, channel_id=record.channel_id, received_at=record.received_at,
                         kind=RawEventKind.SET_ASIDE, reason=code, message=message, set_aside_from="spool",
                         request=record.request, expires_at=io.ingest.expiry(None, record.received_at))
        try:
            io.events.put(event)
        except Exception as refused:
            if store_failed(refused):
                raise
        else:
            io.spool.delete(key)
            return record.event_id
    return io.spool.set_aside(key, f"{code}: {message}")
