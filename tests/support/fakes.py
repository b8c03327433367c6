"""In-memory fakes of `callhook.ports` (docs/design.md): the workflow's decisions run on dicts, in milliseconds.

Each fake keeps the adapter's promise as `callhook.ports` states it, from the items as an admin writes them (the
console's JSON: any case, `ext` a string or a number, typos): `tests/unit/test_ports_contract.py` runs the same
cases on the fakes and on the DynamoDB adapters, so a fake that drifts from the adapter fails there.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import IO, Any, BinaryIO
from urllib.parse import urlsplit

from pydantic import ValidationError

from callhook.errors import (
    ActionNotFoundError,
    ActionResponseTooLargeError,
    BlockedDestinationError,
    ChannelInactiveError,
    ChannelMisconfiguredError,
    ChannelNotFoundError,
    DependencyUnavailableError,
    DialogExistsError,
    DialogStoreUnavailableError,
    ItemRefusedError,
    MissingCallIdError,
    SecretUnreadableError,
    TranscriptMissingError,
)
from callhook.models.action import Action, ActionRun
from callhook.models.api import WebhookAnswer, WebhookRequest
from callhook.models.channel import Channel, parse_channel
from callhook.models.dialog import (
    Dialog,
    FeedEntry,
    Recording,
    RecordingStatus,
    Transcription,
    TranscriptionStatus,
    Workflow,
    make_dialog_id,
)
from callhook.models.directory import Operator, OperatorLookup, normalize_email, normalize_ext
from callhook.models.erasure import ErasureRecord
from callhook.models.event import RawEvent, RawEventKind, SpooledRequest
from callhook.models.problems import InvalidItem, problems_of
from callhook.models.transcription import Fetched, JobStart, TranscribeJob
from callhook.models.workflow import WorkflowState
from callhook.outbound import classify_address
from callhook.services.retention import expires_at
from callhook_admin.errors import InvokeFailedError, LeftoverNotDeletedError


def ingest_write_failure(what: str, code: str) -> Exception:
    """What ingest's adapters raise when DynamoDB answers `code` (callhook.aws_errors.unavailable)."""
    if code == "ValidationException":
        return ItemRefusedError(f"{what}: DynamoDB {code}")
    return DependencyUnavailableError(f"{what}: {code}")


class FakeDialogs:
    """The dialogs table: one stored dict per dialog; `writes` records every section write, in order. `down` set:
    ingest's writes (put_new, fill_telephony) fail as the adapter says DynamoDB failed."""

    def __init__(self, *dialogs: Dialog) -> None:
        self.items: dict[str, dict[str, Any]] = {d.dialog_id: d.model_dump(mode="json") for d in dialogs}
        self.writes: list[dict[str, Any]] = []
        self.down: str | None = None

    def put_new(self, dialog: Dialog) -> None:
        if self.down is not None:
            raise ingest_write_failure("store dialog", self.down)
        if dialog.dialog_id in self.items:
            raise DialogExistsError(self.dialog(dialog.dialog_id))
        item = dialog.model_dump(mode="json")
        item["workflow_pending"] = "pending-0"  # the reconciliation indexes, as the adapter's write sets them
        if dialog.recording is not None:
            item["recording_pending"], item["recording_requested_at"] = "pending-0", dialog.created_at
        self.items[dialog.dialog_id] = item

    def get(self, dialog_id: str) -> Dialog | None:
        item = self.items.get(dialog_id)
        return None if item is None else Dialog.model_validate(copy.deepcopy(item))

    def set_sections(self, dialog_id: str, sections: dict[str, Any], *, remove: tuple[str, ...] = ()) -> None:
        item = self.items[dialog_id]  # the adapter's write is conditional on the dialog existing, too
        item.update(copy.deepcopy(sections))
        for name in remove:
            item.pop(name, None)
        self.writes.append(copy.deepcopy(sections))

    def add_feed_entry(self, dialog_id: str, entry: FeedEntry) -> bool:
        feed = self.items[dialog_id].setdefault("feed", [])
        if any(e["id"] == entry.id for e in feed):
            return False
        feed.append(entry.model_dump(mode="json"))
        return True

    def fill_telephony(self, dialog_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        if self.down is not None:
            raise ingest_write_failure("update dialog telephony", self.down)
        item = self.items.get(dialog_id)
        if item is None:
            return None
        telephony = item["telephony"]
        for name, value in fields.items():
            if value is not None and telephony.get(name) is None:
                telephony[name] = value
        return dict(telephony)

    def dialog(self, dialog_id: str) -> Dialog:
        found = self.get(dialog_id)
        assert found is not None
        return found

    # the admin's reads and an erasure's deletes (callhook_admin.ports)
    def get_raw(self, dialog_id: str) -> dict[str, Any] | None:
        item = self.items.get(dialog_id)
        return None if item is None else copy.deepcopy(item)

    def list_by_channel(self, channel_id: str, *, since: str | None = None, until: str | None = None,
                        limit: int = 50, start_key: dict[str, Any] | None = None,
                        ) -> tuple[list[Dialog], dict[str, Any] | None]:
        found = sorted((i for i in self.items.values() if i["channel_id"] == channel_id
                        and (since is None or i["created_at"] >= since)
                        and (until is None or i["created_at"] <= until)), key=lambda i: i["created_at"], reverse=True)
        return _page(found, "dialog_id", limit, start_key, Dialog.model_validate)

    def numbers_of_channel(self, channel_id: str) -> list[tuple[str, str | None, str | None]]:
        return [(i["dialog_id"], i["telephony"].get("caller"), i["telephony"].get("callee"))
                for i in self.items.values() if i["channel_id"] == channel_id]

    def delete(self, dialog_id: str) -> bool:
        return self.items.pop(dialog_id, None) is not None


def _page(found: list[dict[str, Any]], key: str, limit: int, start_key: dict[str, Any] | None,
          model: Any) -> tuple[list[Any], dict[str, Any] | None]:
    """One page of `found` (already in the index's order) after the item `start_key` names, as a query with Limit
    gives it: where the next page starts while items remain."""
    if start_key:
        ids = [i[key] for i in found]
        found = found[ids.index(start_key[key]) + 1:] if start_key[key] in ids else []
    page = found[:limit]
    more = len(found) > limit
    return [model(copy.deepcopy(i)) for i in page], ({key: page[-1][key]} if more else None)


class FakeOperators:
    """The operators table from items as written in the console; `writes` counts the derived keys' writes."""

    def __init__(self, *items: dict[str, Any]) -> None:
        self.items = list(items)
        self.writes = 0

    def _lookup(self, matching: list[dict[str, Any]]) -> OperatorLookup:
        found = OperatorLookup()
        for item in matching:
            try:
                found.operators.append(Operator.from_item(item))
            except ValidationError as exc:
                found.invalid.append(InvalidItem(item_id=str(item.get("user_id")), problems=problems_of(exc)))
        return found

    def by_email(self, email: str) -> OperatorLookup:
        key = normalize_email(email)
        return self._lookup([i for i in self.items
                             if isinstance(i.get("email"), str) and normalize_email(i["email"]) == key])

    def by_ext(self, ext: str) -> OperatorLookup:
        key = normalize_ext(ext)
        return self._lookup([i for i in self.items if key is not None and normalize_ext(i.get("ext")) == key])

    def get(self, user_id: int) -> Operator | None:
        found = self._lookup([i for i in self.items if i.get("user_id") == user_id])
        return found.operators[0] if found.operators else None

    def write_derived(self, item: dict[str, Any], wanted: dict[str, str | None]) -> bool:
        stored = next((i for i in self.items if i.get("user_id") == item.get("user_id")), None)
        same_source = stored is not None and all(stored.get(name) == item.get(name) and
                                                 (name in stored) == (name in item) for name in ("email", "ext"))
        if stored is None or not same_source or all(stored.get(k) == v for k, v in wanted.items()):
            return False
        for name, value in wanted.items():
            if value is None:
                stored.pop(name, None)
            else:
                stored[name] = value
        self.writes += 1
        return True


class FakeConfigItems:
    """A configuration table (channels, actions) of items as the console wrote them, by their key."""

    def __init__(self, key: str, *items: dict[str, Any]) -> None:
        self.items = {str(i[key]): copy.deepcopy(i) for i in items}

    def get(self, key: Any) -> dict[str, Any] | None:
        found = self.items.get(str(key))
        return None if found is None else copy.deepcopy(found)

    def scan_all(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(i) for i in self.items.values()]


class FakeTopics:
    """The topics table by alias; `listed` counts the (unhappy-path) listings."""

    def __init__(self, *aliases: str) -> None:
        self.stored = set(aliases)
        self.listed = 0

    def exists(self, alias: str) -> bool:
        return alias in self.stored

    def aliases(self) -> list[str]:
        self.listed += 1
        return sorted(self.stored)


class FakeInstanceSettings:
    def __init__(self, default_operator_id: int = 1, problem: str | None = None) -> None:
        self.value = (default_operator_id, problem)

    def default_operator_id(self) -> tuple[int, str | None]:
        return self.value


class FakeActions:
    def __init__(self, *actions: Action) -> None:
        self.actions = {a.action_id: a for a in actions}

    def get(self, action_id: str) -> Action:
        if action_id not in self.actions:
            raise ActionNotFoundError(f"no action {action_id!r} in Action Jail", action_id=action_id)
        return self.actions[action_id]


class FakeChannels:
    """The channels table: Channel models, or items as the console wrote them, which `get` parses as the adapter
    does (an invalid one raises ChannelConfigError naming its problems)."""

    def __init__(self, *channels: Channel | dict[str, Any]) -> None:
        self.channels = {c.channel_id: c for c in channels if isinstance(c, Channel)}
        self.items = {str(c["channel_id"]): c for c in channels if isinstance(c, dict)}

    def get(self, channel_id: str, *, fresh: bool = False) -> Channel | None:
        if channel_id in self.items:
            return parse_channel(copy.deepcopy(self.items[channel_id]))
        return self.channels.get(channel_id)

    def item(self, channel_id: str) -> dict[str, Any] | None:
        if channel_id in self.items:
            return copy.deepcopy(self.items[channel_id])
        found = self.channels.get(channel_id)
        return None if found is None else found.model_dump(mode="json", exclude_none=True)


class FakeRunner:
    """Answers every run with `run` (or raises `error`); `states` keeps what each run was given."""

    def __init__(self, run: ActionRun | None = None, error: Exception | None = None) -> None:
        self.run, self.error = run, error
        self.states: list[dict[str, Any]] = []

    def __call__(self, action: Action, state: Any) -> ActionRun:
        self.states.append(dict(state))
        if self.error is not None:
            raise self.error
        assert self.run is not None
        return self.run


class FakeRecordingRequests:
    """`requested` keeps the dialog ids asked for, in order; `marked` those whose caller had marked them."""

    def __init__(self) -> None:
        self.requested: list[str] = []
        self.marked: list[str] = []

    def request(self, dialog_id: str, *, marked: bool = False) -> None:
        self.requested.append(dialog_id)
        if marked:
            self.marked.append(dialog_id)


# ------------------------------------------------------------------------------------------- the transcription side

JOB_ATTRIBUTE, TOKEN_ATTRIBUTE = "transcription_job", "transcription_task_token"  # as repositories/transcriptions.py


class FakeTranscriptionStore:
    """The conditional writes of `TranscriptionRepository`, on the items of a `FakeDialogs` (the job and token
    attributes live on the item beside the sections, as on DynamoDB)."""

    def __init__(self, dialogs: FakeDialogs) -> None:
        self.items = dialogs.items

    def _section(self, dialog_id: str) -> dict[str, Any]:
        return self.items[dialog_id].get("transcription") or {}

    def _code(self, dialog_id: str) -> str | None:
        return (self._section(dialog_id).get("reason") or {}).get("code")

    def set_recording(self, dialog_id: str, recording: Recording) -> bool:
        item = self.items.get(dialog_id)
        if item is None or (recording.status != RecordingStatus.KEPT
                            and (item.get("recording") or {}).get("status") == RecordingStatus.KEPT.value):
            return False
        item["recording"] = recording.model_dump(mode="json")
        item.pop("recording_pending", None)
        item.pop("recording_requested_at", None)
        return True

    def record_decision(self, dialog_id: str, transcription: Transcription, *,
                        workflow: Workflow | None = None) -> bool:
        item = self.items.get(dialog_id)
        if item is None or JOB_ATTRIBUTE in item:
            return False
        item["transcription"] = transcription.model_dump(mode="json")
        if workflow is not None:
            item["workflow"] = workflow.model_dump(mode="json")
        return True

    def park(self, dialog_id: str, waiting: Transcription, task_token: str) -> bool:
        item = self.items.get(dialog_id)
        if item is None or JOB_ATTRIBUTE in item:
            return False
        item["transcription"] = waiting.model_dump(mode="json")
        item[TOKEN_ATTRIBUTE] = task_token
        return True

    def claim(self, dialog_id: str, started: Transcription, *, task_token: str | None = None,
              only_after: tuple[str, ...] = ()) -> tuple[bool, str | None]:
        item = self.items.get(dialog_id)
        if item is None or JOB_ATTRIBUTE in item or (only_after and self._code(dialog_id) not in only_after):
            return False, None
        item["transcription"] = started.model_dump(mode="json")
        item[JOB_ATTRIBUTE] = started.job_name
        if task_token is not None:
            item[TOKEN_ATTRIBUTE] = task_token
        return True, item.get(TOKEN_ATTRIBUTE)

    def attach_token(self, dialog_id: str, task_token: str) -> bool:
        item = self.items.get(dialog_id)
        if item is None or self._section(dialog_id).get("status") != TranscriptionStatus.STARTED.value:
            return False
        item[TOKEN_ATTRIBUTE] = task_token
        return True

    def finish(self, dialog_id: str, final: Transcription, *, over_timeout: bool = False,
               ) -> tuple[bool, str | None, dict[str, Any] | None]:
        item = self.items.get(dialog_id)
        status = self._section(dialog_id).get("status") if item is not None else None
        timed_out = status == TranscriptionStatus.FAILED.value and self._code(dialog_id) == "timeout"
        if item is None or not (status == TranscriptionStatus.STARTED.value or (over_timeout and timed_out)):
            return False, None, None
        before = copy.deepcopy(item)
        item["transcription"] = final.model_dump(mode="json")
        item.pop(TOKEN_ATTRIBUTE, None)
        return True, before.get(TOKEN_ATTRIBUTE), before

    def resolve_waiting(self, dialog_id: str, final: Transcription, waiting_code: str) -> tuple[bool, str | None]:
        item = self.items.get(dialog_id)
        if item is None or JOB_ATTRIBUTE in item or self._code(dialog_id) != waiting_code:
            return False, None
        token = item.pop(TOKEN_ATTRIBUTE, None)
        item["transcription"] = final.model_dump(mode="json")
        return True, token


class FakeTranscribe:
    """Amazon Transcribe: `jobs` by name (their record); `refuse` makes the next start a refusal; `started` keeps the
    requests it took, in order."""

    def __init__(self, *, refuse: str | None = None) -> None:
        self.jobs: dict[str, TranscribeJob] = {}
        self.refuse = refuse
        self.started: list[dict[str, Any]] = []

    def start(self, request: dict[str, Any]) -> JobStart:
        name = request["TranscriptionJobName"]
        if self.refuse is not None:
            return JobStart(outcome="refused", message=self.refuse)
        if name in self.jobs:
            return JobStart(outcome="exists")
        self.started.append(request)
        self.jobs[name] = TranscribeJob(name=name, status="IN_PROGRESS")
        return JobStart(outcome="started")

    def get(self, job_name: str) -> TranscribeJob:
        return self.jobs.get(job_name) or TranscribeJob(
            name=job_name, status="FAILED", failure_reason=f"the job {job_name} is unknown to Transcribe")

    def end(self, job_name: str, status: str = "COMPLETED", *, failure_reason: str | None = None,
            language_code: str | None = "en-US") -> None:
        self.jobs[job_name] = TranscribeJob(name=job_name, status=status, failure_reason=failure_reason,
                                            language_code=language_code)


class FakeTranscripts:
    """The transcript objects by key; a missing key is what S3's NoSuchKey is to the adapter."""

    def __init__(self, **objects: bytes) -> None:
        self.objects = dict(objects)

    def read(self, key: str) -> bytes:
        if key not in self.objects:
            raise TranscriptMissingError("S3 answered NoSuchKey")
        return self.objects[key]


class FakeTaskTokens:
    """Step Functions' waiting states: `waiting` tokens may be answered once; `answers` keeps (token, output)."""

    def __init__(self, *waiting: str) -> None:
        self.waiting = set(waiting)
        self.answers: list[tuple[str, dict[str, Any]]] = []
        self.heartbeats: list[str] = []

    def succeed(self, token: str, output: str) -> bool:
        if token not in self.waiting:
            return False
        self.waiting.discard(token)
        self.answers.append((token, json.loads(output)))
        return True

    def heartbeat(self, token: str) -> None:
        self.heartbeats.append(token)


# ------------------------------------------------------------------------------- workflow edges, kept requests


class FakeRawEvents:
    """The raw events table: items by event id; `held` and `pending_updates` read its sparse indexes, oldest first.
    `down` set: writes fail as ingest's adapter says DynamoDB failed."""

    def __init__(self, *events: RawEvent) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.down: str | None = None
        for event in events:
            self.put(event)

    def put(self, event: RawEvent) -> None:
        if self.down is not None:
            raise ingest_write_failure("store raw event", self.down)
        self.items[event.event_id] = event.model_dump(mode="json", exclude_none=True)

    def get(self, event_id: str) -> RawEvent | None:
        item = self.items.get(event_id)
        return None if item is None else RawEvent.model_validate(copy.deepcopy(item))

    def event(self, event_id: str) -> RawEvent:
        found = self.get(event_id)
        assert found is not None
        return found

    def held(self, channel_id: str, *, limit: int = 100) -> list[RawEvent]:
        found = sorted((i for i in self.items.values() if i.get("held_channel") == channel_id),
                       key=lambda i: i["received_at"])
        return [RawEvent.model_validate(copy.deepcopy(i)) for i in found[:limit]]

    def pending_updates(self, dialog_id: str) -> list[RawEvent]:
        found = sorted((i for i in self.items.values() if i.get("dialog_id") == dialog_id
                        and i.get("kind") == RawEventKind.PENDING_UPDATE.value), key=lambda i: i["received_at"])
        return [RawEvent.model_validate(copy.deepcopy(i)) for i in found]

    def mark(self, event_id: str, kind: RawEventKind, *, remove: tuple[str, ...] = (), **fields: Any) -> None:
        if self.down is not None:
            raise ingest_write_failure("update raw event", self.down)
        item = self.items[event_id]
        item.update({"kind": kind.value, **fields})
        for name in remove:
            item.pop(name, None)

    # the admin's reads and an erasure's deletes (callhook_admin.ports)
    def list_by_channel(self, channel_id: str, *, limit: int = 50, start_key: dict[str, Any] | None = None,
                        kind: RawEventKind | None = None) -> tuple[list[RawEvent], dict[str, Any] | None]:
        found = sorted((i for i in self.items.values() if i["channel_id"] == channel_id
                        and (kind is None or i["kind"] == kind.value)), key=lambda i: i["received_at"], reverse=True)
        return _page(found, "event_id", limit, start_key, RawEvent.model_validate)

    def linked_to(self, dialog_id: str) -> list[str]:
        return [i["event_id"] for i in self.items.values() if i.get("dialog_id") == dialog_id]

    def of_channel(self, channel_id: str) -> list[RawEvent]:
        return [RawEvent.model_validate(copy.deepcopy(i)) for i in self.items.values()
                if i["channel_id"] == channel_id]

    def delete(self, event_id: str) -> None:
        self.items.pop(event_id, None)


class FakeSpool:
    """The spool bucket: records by key (arrival time first, as SpoolStore names them). `down` set: S3 fails."""

    def __init__(self, *records: SpooledRequest) -> None:
        self.objects: dict[str, SpooledRequest | None] = {f"spool/{r.received_at}-{r.event_id}.json": r
                                                          for r in records}
        self.aside: dict[str, tuple[SpooledRequest | None, str]] = {}
        self.down: str | None = None

    def put(self, record: SpooledRequest) -> str:
        if self.down is not None:
            raise DependencyUnavailableError(f"spool the request: {self.down}")
        key = f"spool/{record.received_at}-{record.event_id}.json"
        self.objects[key] = record
        return key

    def keys(self, *, limit: int = 100) -> list[str]:
        return sorted(self.objects)[:limit]

    def get(self, key: str) -> SpooledRequest | None:
        if key in self.objects and self.objects[key] is None:  # an object whose bytes are no SpooledRequest
            raise ValueError(f"{key}: not a spooled request")
        return self.objects.get(key)

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def set_aside(self, key: str, reason: str) -> str:
        if self.down is not None:
            raise DependencyUnavailableError(f"set a spooled request aside: {self.down}")
        aside = "set-aside/" + key.removeprefix("spool/")
        self.aside[aside] = (self.objects.pop(key, None), reason)
        return aside


class FakePayloads:
    """The bucket's payload objects by key. `down` set: S3 fails (as ingest's adapter says it: unavailable)."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.down: str | None = None

    def put(self, key: str, data: bytes) -> None:
        if self.down is not None:
            raise DependencyUnavailableError(f"store a large payload: {self.down}")
        self.objects[key] = data

    def read(self, key: str) -> bytes:
        if self.down is not None:
            raise DependencyUnavailableError(f"read a large payload: {self.down}")
        return self.objects[key]

    def delete(self, key: str) -> None:
        if self.down is not None:
            raise DependencyUnavailableError(f"delete a large payload: {self.down}")
        self.objects.pop(key, None)


class FakeChannelIds:
    def __init__(self, *channel_ids: str) -> None:
        self.channel_ids = list(channel_ids)

    def ids(self) -> list[str]:
        return list(self.channel_ids)


class FakeIngest:
    """Ingest as kept requests meet it: `channels` by id (a string instead of a Channel: the item is invalid, with
    these problems); a JSON body's call id (the channel's `call_id` mapping, a top-level key) makes the dialog id as
    ingest does; the first request of a call is `accepted`, a later one `duplicate`. The tables fail (as
    DialogStoreUnavailableError) for the next `fail_next` calls and for the call ids in `failing`; `accepted` keeps
    (dialog id, status, received_at) in the order they came."""

    def __init__(self, *channels: Channel | tuple[str, str], default_retention_days: int = 0) -> None:
        self.channels: dict[str, Channel | str] = {}
        for channel in channels:
            if isinstance(channel, Channel):
                self.channels[channel.channel_id] = channel
            else:
                self.channels[channel[0]] = channel[1]
        self.default_retention_days = default_retention_days
        self.fail_next = 0
        self.failing: set[str] = set()
        self.refusing: set[str] = set()
        self.dialogs: dict[str, str] = {}  # dialog id -> the received_at it was stored with
        self.accepted: list[tuple[str, str, str]] = []

    def channel(self, channel_id: str) -> Channel:
        found = self.channels.get(channel_id)
        if found is None:
            raise ChannelNotFoundError(f"no channel {channel_id!r}")
        if isinstance(found, str):
            raise ChannelMisconfiguredError(found)
        return found

    def accept(self, channel: Channel, request: WebhookRequest, received_at: str) -> WebhookAnswer:
        if not channel.active:
            raise ChannelInactiveError(f"channel {channel.channel_id!r} is not active")
        call_id = json.loads(request.body or b"{}").get(channel.advanced_config.mapping_for("call_id") or "call_id")
        if not call_id:
            raise MissingCallIdError("no call_id after mapping")
        if self.fail_next > 0 or call_id in self.failing:
            self.fail_next = max(0, self.fail_next - 1)
            raise DialogStoreUnavailableError("DynamoDB ThrottlingException")
        if call_id in self.refusing:  # the table works and refuses this item, as ingest's adapter says it
            try:
                raise ItemRefusedError("store dialog: DynamoDB ValidationException: Item size has exceeded the "
                                       "maximum allowed size")
            except ItemRefusedError as exc:
                raise DialogStoreUnavailableError(str(exc)) from exc
        dialog_id = make_dialog_id(channel.channel_id, str(call_id))
        status = "duplicate" if dialog_id in self.dialogs else "accepted"
        self.dialogs.setdefault(dialog_id, received_at)
        self.accepted.append((dialog_id, status, received_at))
        return WebhookAnswer(status=status, dialog_id=dialog_id)

    def expiry(self, channel: Channel | None, received_at: str) -> int | None:
        days = self.default_retention_days if channel is None or channel.retention_days is None else \
            channel.retention_days
        return expires_at(received_at, days)


class FakeExecutions:
    """Step Functions' executions by name: `status` of each; `started` keeps the (name, input) of every start.
    `down` set: StartExecution fails (DependencyUnavailableError, as the adapter says any refusal)."""

    def __init__(self, **statuses: str) -> None:
        self.statuses = dict(statuses)
        self.started: list[tuple[str, dict[str, Any]]] = []
        self.down: str | None = None
        self.histories: dict[str, list[dict[str, Any]]] = {}  # name -> its history events, oldest first
        self.started_at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

    def start(self, name: str, state: WorkflowState) -> str:
        if self.down is not None:
            raise DependencyUnavailableError(f"StartExecution failed: {self.down}")
        self.started.append((name, state.execution_input()))
        self.statuses.setdefault(name, "RUNNING")
        return f"arn:aws:states:us-east-1:123456789012:execution:wf:{name}"

    def status(self, name: str) -> str | None:
        return self.statuses.get(name)

    # the admin's (callhook_admin.ports.DialogExecutions)
    def of_dialog(self, dialog_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while (name := dialog_id if not found else f"{dialog_id}-r{len(found)}") in self.statuses:
            found.append({"name": name, "status": self.statuses[name], "startDate": self.started_at,
                          "executionArn": f"arn:aws:states:us-east-1:123456789012:execution:wf:{name}"})
        return found

    def status_of(self, execution_arn: str) -> str:
        return self.statuses[execution_arn.rsplit(":", 1)[-1]]

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.histories.get(execution_arn.rsplit(":", 1)[-1], []))


class FakePendingDialogs:
    """The reconciliation indexes of a `FakeDialogs`: `workflow_pending` and `recording_requested_at` on the items."""

    def __init__(self, dialogs: FakeDialogs) -> None:
        self.items = dialogs.items

    def list_workflow_pending(self, *, older_than: str, limit: int = 100) -> list[Dialog]:
        found = sorted((i for i in self.items.values() if i.get("workflow_pending") and i["created_at"] < older_than),
                       key=lambda i: i["created_at"])
        return [Dialog.model_validate(copy.deepcopy(i)) for i in found[:limit]]

    def clear_workflow_pending(self, dialog_id: str) -> None:
        self.items[dialog_id].pop("workflow_pending", None)

    def list_recording_pending(self, *, requested_before: str, limit: int = 100) -> list[str]:
        found = sorted((i for i in self.items.values() if i.get("recording_pending")
                        and i.get("recording_requested_at", "") < requested_before),
                       key=lambda i: i["recording_requested_at"])
        return [i["dialog_id"] for i in found[:limit]]


# ------------------------------------------------------------------------------------------- keeping recordings


class FakeSecrets:
    """References to values; an unknown reference is unreadable, as a missing parameter is (unless `default`)."""

    def __init__(self, default: str | None = None, **values: str) -> None:
        self.default, self.values = default, values

    def read(self, reference: str, *, fresh: bool = False) -> str:
        if reference in self.values:
            return self.values[reference]
        if self.default is not None:
            return self.default
        raise SecretUnreadableError(reference, "ParameterNotFound", f"secret {reference} could not be read "
                                    "(ParameterNotFound)")


class FakeDownloads:
    """Recording URLs and what each answers: (status, content type, body), or an exception the outbound rules
    raise; `fetched` keeps (url, headers, auth) of every fetch. As the adapter: an address that is not public is
    refused unless allowed (callhook.outbound's table, for IP literals and `localhost`), a body over `max_bytes` is
    refused, the content type is its lower-cased media type."""

    def __init__(self, **answers: tuple[int, str, bytes] | Exception) -> None:
        self.answers: dict[str, tuple[int, str, bytes] | Exception] = dict(answers)
        self.fetched: list[tuple[str, dict[str, str], tuple[str, str] | None]] = []

    def fetch(self, url: str, sink: BinaryIO, *, allow_private_network: bool, timeout_s: float, max_bytes: int,
              headers: dict[str, str], auth: tuple[str, str] | None) -> Fetched:
        host = urlsplit(url).hostname or ""
        reason = "loopback address" if host == "localhost" else _address_reason(host)
        if reason is not None and not allow_private_network:
            raise BlockedDestinationError(f"{reason} {host} refused")
        self.fetched.append((url, dict(headers), auth))
        answer = self.answers[url]
        if isinstance(answer, Exception):
            raise answer
        status, content_type, body = answer
        if len(body) > max_bytes:
            raise ActionResponseTooLargeError(f"more than {max_bytes} bytes")
        sink.write(body)
        return Fetched(status=status, content_type=content_type.split(";")[0].strip().lower())


def _address_reason(host: str) -> str | None:
    try:
        return classify_address(host)
    except ValueError:  # a name: the fakes' URLs name public hosts
        return None


class FakeRecordingObjects:
    """The recordings bucket: key -> (bytes, content type)."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    def store(self, body: IO[bytes], key: str, content_type: str) -> None:
        self.objects[key] = (body.read(), content_type)


class FakeLeftovers:
    """A removed dialog's objects and Transcribe jobs; keys in `undeletable` fail with AccessDenied."""

    def __init__(self, objects: set[str], jobs: set[str], undeletable: set[str] | None = None) -> None:
        self.objects, self.jobs, self.undeletable = set(objects), set(jobs), undeletable or set()

    def delete_objects(self, keys: list[str]) -> list[str]:
        failed = [f"{k}: AccessDenied" for k in keys if k in self.undeletable]
        self.objects -= set(keys) - self.undeletable
        return failed

    def delete_transcription_job(self, name: str) -> bool:
        found = name in self.jobs
        self.jobs.discard(name)
        return found


class FakeErasureObjects(FakeLeftovers):
    """The recordings bucket and Transcribe's jobs as an erasure sees them; a job in `refused` is refused with
    AccessDeniedException, as the adapter reports a refusal."""

    def __init__(self, objects: set[str], jobs: set[str], undeletable: set[str] | None = None,
                 refused: set[str] | None = None, contents: dict[str, bytes] | None = None) -> None:
        super().__init__(objects | set(contents or {}), jobs, undeletable)
        self.refused = refused or set()
        self.contents = dict(contents or {})

    def keys_under(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def read(self, key: str) -> bytes | None:
        return self.contents.get(key) if key in self.objects else None

    def delete_transcription_job(self, name: str) -> bool:
        if name in self.refused:
            raise LeftoverNotDeletedError(f"DeleteTranscriptionJob {name} refused: AccessDeniedException",
                                          code="AccessDeniedException")
        return super().delete_transcription_job(name)


class FakeErasureRecords:
    """Who asks, and the records kept."""

    def __init__(self, identity: str = "arn:aws:iam::123456789012:user/admin") -> None:
        self.identity = identity
        self.records: list[ErasureRecord] = []

    def caller(self) -> str:
        return self.identity

    def put(self, record: ErasureRecord) -> None:
        self.records.append(record)


# ------------------------------------------------------------------------------------------- dead letters


class FakeDeadLetters:
    """One SQS queue: messages as ReceiveMessage answers them (`send` adds one, sent at `sent_ms`); a message received
    with a visibility timeout is in flight until released or deleted. Each receive gives a new receipt handle."""

    def __init__(self) -> None:
        self.messages: dict[str, dict[str, Any]] = {}
        self.in_flight: set[str] = set()
        self.handles: dict[str, str] = {}
        self.receives = 0

    def send(self, body: str, *, sent_ms: int = 1_700_000_000_000, **attributes: str) -> str:
        mid = f"m-{len(self.messages) + 1}"
        self.messages[mid] = {"MessageId": mid, "Body": body, "Attributes": {"SentTimestamp": str(sent_ms)},
                              "MessageAttributes": {k: {"StringValue": v, "DataType": "String"}
                                                    for k, v in attributes.items()}}
        return mid

    def counts(self) -> tuple[int, int]:
        return len(self.messages) - len(self.in_flight), len(self.in_flight)

    def receive(self, *, max_messages: int = 10, visibility_s: int = 0) -> list[dict[str, Any]]:
        visible = [m for mid, m in self.messages.items() if mid not in self.in_flight][:max(1, min(10, max_messages))]
        found = []
        for message in visible:
            self.receives += 1
            handle = f"{message['MessageId']}/{self.receives}"
            self.handles[handle] = message["MessageId"]
            if visibility_s:
                self.in_flight.add(message["MessageId"])
            found.append({**copy.deepcopy(message), "ReceiptHandle": handle})
        return found

    def release(self, receipt_handle: str) -> None:
        self.in_flight.discard(self.handles[receipt_handle])

    def delete(self, receipt_handle: str) -> None:
        mid = self.handles[receipt_handle]
        self.messages.pop(mid, None)
        self.in_flight.discard(mid)


class FakeInvoker:
    """Lambda's asynchronous invoke: `invoked` keeps (function, payload); a function not in `functions` is refused
    as Lambda refuses an unknown one."""

    def __init__(self, *functions: str) -> None:
        self.functions = set(functions)
        self.invoked: list[tuple[str, bytes]] = []

    def __call__(self, function: str, payload: bytes) -> None:
        if function not in self.functions:
            raise InvokeFailedError(f"An error occurred (ResourceNotFoundException) when calling the Invoke "
                                    f"operation: Function not found: {function}")
        self.invoked.append((function, payload))
