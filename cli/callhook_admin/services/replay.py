"""Replays: a kept raw event through ingest again, a dialog's workflow again.

The decisions (what may be replayed, what the event or dialog is marked with) are plain functions over models;
`replay_event` and `replay_dialog` read and write around them through ports (`callhook_admin.ports`, ingest's
`IngestPorts`), which the CLI builds (callhook_cli/wiring.py). Both are proved on fakes in
tests/unit/test_admin_replay.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from callhook.clock import utc_now
from callhook.errors import DialogNotFoundError, WebhookRejectedError
from callhook.models.api import WebhookAnswer, WebhookRequest
from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus, Workflow
from callhook.models.event import RawEvent, RawEventKind
from callhook.services import ingest
from callhook.services.workflow_steps import workflow_input
from callhook.settings import IngestSettings
from callhook_admin.errors import ExecutionStillRunningError, ItemNotFoundError, NotReplayableError
from callhook_admin.models.execution import execution_name
from callhook_admin.ports import DialogExecutions, DialogSections, EventPages, ReplayEvents

REPLAYABLE_KINDS = frozenset({RawEventKind.REJECTED, RawEventKind.REPLAYED, RawEventKind.SET_ASIDE})
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


@dataclass(frozen=True)
class EventReplayPorts:
    """What an event replay reads and writes: the raw event, and ingest's ports with channels read fresh."""

    events: ReplayEvents
    ingest: ingest.IngestPorts


@dataclass(frozen=True)
class DialogReplayPorts:
    dialogs: DialogSections
    executions: DialogExecutions


# ------------------------------------------------------------------------------------------------------ event replay
class EventReplay(BaseModel):
    """What replaying one raw event gave: the ingest answer, or why it is still rejected."""

    model_config = ConfigDict(extra="forbid")

    event_id: str
    channel_id: str
    outcome: Literal["accepted", "duplicate", "ignored", "rejected"]
    dialog_id: str | None = None
    reason: str | None = None
    message: str | None = None
    status_code: int | None = None


def event_refusal(event: RawEvent) -> str | None:
    """Why `event` is not replayed (None: it is). Held events become dialogs by themselves once their channel is
    valid again; update events are applied when their call arrives."""
    if event.kind == RawEventKind.HELD:
        return (f"event {event.event_id} is held: it becomes a dialog by itself as soon as channel "
                f"{event.channel_id!r} is valid again (`callhook channel check {event.channel_id}` names what to fix)")
    if event.kind not in REPLAYABLE_KINDS:
        return (f"event {event.event_id} is a {event.kind.value} event: update events are applied when their call "
                "arrives, they are not replayed")
    return None


def accepted_marks(answer: WebhookAnswer, at: str) -> dict[str, Any]:
    """What an event that went through is marked with (its kind becomes `replayed`)."""
    marks: dict[str, Any] = {"replayed_at": at, "replay_status": answer.status}
    if answer.dialog_id:  # dialog_id keys a sparse index: set it only with a value
        marks["dialog_id"] = answer.dialog_id
    return marks


def rejected_marks(exc: WebhookRejectedError, at: str) -> dict[str, Any]:
    """What an event rejected again is marked with (it keeps its kind, so `--all` finds it again)."""
    return {"last_replay_at": at, "last_replay_reason": exc.reason, "last_replay_message": exc.message}


def stored_webhook_request(event: RawEvent) -> WebhookRequest:
    """The request of a raw event as ingest sees requests (it was stored without its credentials)."""
    return ingest.webhook_request_from(event.channel_id, event.request)


def replay_event(event_id: str, io: EventReplayPorts, settings: IngestSettings) -> EventReplay:
    """Run a kept request through ingest again (after the admin fixed the mapping, activated the channel, ...).

    Authentication is bypassed on purpose, and only here: the stored request has no credentials (they are never
    kept), and the admin replaying it is authenticated by AWS IAM. Everything after authentication is the webhook
    path itself (`callhook.services.ingest`), with the channel read fresh. The event is marked `replayed` with the
    resulting dialog; one that is rejected again keeps its kind and records the new reason.

    Raises:
        ItemNotFoundError: no such event.
        NotReplayableError: a held or update event (see `event_refusal`).
        DependencyUnavailableError: DynamoDB or Step Functions failed; replaying again is safe.
    """
    events = io.events
    event = events.get(event_id)
    if event is None:
        raise ItemNotFoundError(f"no raw event {event_id!r}")
    refusal = event_refusal(event)
    if refusal is not None:
        raise NotReplayableError(refusal)
    request = stored_webhook_request(event)
    try:
        channel = ingest.load_channel(event.channel_id, io.ingest)
        # The call happened when the request arrived: its dialog's created_at and retention count from then.
        answer = ingest.accept_authenticated(channel, request, io.ingest, settings, received_at=event.received_at)
    except WebhookRejectedError as exc:
        events.mark(event_id, event.kind, **rejected_marks(exc, utc_now()))
        return EventReplay(event_id=event_id, channel_id=event.channel_id, outcome="rejected", reason=exc.reason,
                           message=exc.message, status_code=exc.status_code)
    events.mark(event_id, RawEventKind.REPLAYED, **accepted_marks(answer, utc_now()))
    return EventReplay(event_id=event_id, channel_id=event.channel_id, outcome=answer.status,
                       dialog_id=answer.dialog_id, reason=answer.reason)


def replayable_events(events: EventPages, channel_id: str) -> list[RawEvent]:
    """The channel's rejected events, oldest first (the order their calls happened)."""
    found: list[RawEvent] = []
    start = None
    while True:
        page, start = events.list_by_channel(channel_id, limit=100, start_key=start)
        found += [e for e in page if e.kind == RawEventKind.REJECTED]
        if not start:
            return sorted(found, key=lambda e: e.received_at)


# ----------------------------------------------------------------------------------------------------- dialog replay
class DialogReplay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dialog_id: str
    replay: int
    execution_name: str
    execution_arn: str


class DialogReplayPlan(BaseModel):
    """The next run of a dialog's workflow: its number, its execution's name, and the sections reset before it."""

    model_config = ConfigDict(extra="forbid")

    replay: int
    execution_name: str
    sections: dict[str, Any]


def plan_dialog_replay(dialog: Dialog, executions: list[dict[str, Any]]) -> DialogReplayPlan:
    """The next execution is `<dialog_id>-r<N>` (N = executions so far). The workflow section is reset, and the
    enrichment too when there is an action, so that a failure of this run is reported as this run's.

    Raises:
        NotReplayableError: an execution of the dialog is still running.
    """
    running = [e["name"] for e in executions if e["status"] == "RUNNING"]
    if running:
        raise NotReplayableError(f"execution {running[-1]} of dialog {dialog.dialog_id} is still running; replay it "
                                 "after it ends (`callhook execution history` shows where it is)")
    replay = len(executions)
    sections: dict[str, Any] = {"workflow": Workflow().model_dump(mode="json")}
    if dialog.policy.enrich_action:
        sections["enrichment"] = Enrichment(status=EnrichmentStatus.PENDING,
                                            action_id=dialog.policy.enrich_action).model_dump(mode="json")
    return DialogReplayPlan(replay=replay, execution_name=execution_name(dialog.dialog_id, replay), sections=sections)


def replay_dialog(dialog_id: str, io: DialogReplayPorts) -> DialogReplay:
    """Run the dialog's workflow again: a new execution named `<dialog_id>-r<N>` for the same, stored dialog.

    The steps overwrite their own sections, so a replay converges on what the current configuration gives.

    Raises:
        DialogNotFoundError: no such dialog.
        NotReplayableError: an execution of the dialog is still running.
        DependencyUnavailableError: Step Functions refused or was unreachable.
    """
    dialog = io.dialogs.get(dialog_id)
    if dialog is None:
        raise DialogNotFoundError(f"no dialog {dialog_id!r}")
    plan = plan_dialog_replay(dialog, io.executions.of_dialog(dialog_id))
    io.dialogs.set_sections(dialog_id, plan.sections)
    arn = io.executions.start(plan.execution_name, workflow_input(dialog))
    io.dialogs.set_sections(dialog_id, {"execution_arn": arn})
    return DialogReplay(dialog_id=dialog_id, replay=plan.replay, execution_name=plan.execution_name,
                        execution_arn=arn)


def wait_for_execution(executions: DialogExecutions, execution_arn: str, timeout: float, *, poll_s: float = 0.2,
                       sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                       ) -> str:
    """The execution's final status, polled until it ends.

    Raises:
        ExecutionStillRunningError: it had not ended after `timeout` seconds.
    """
    deadline = clock() + timeout
    while True:
        status = executions.status_of(execution_arn)
        if status in TERMINAL:
            return status
        if clock() > deadline:
            raise ExecutionStillRunningError(f"execution {execution_arn.rsplit(':', 1)[-1]} still {status} after "
                                             f"{timeout:g}s")
        sleep(poll_s)
