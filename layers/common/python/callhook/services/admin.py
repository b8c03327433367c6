"""Configuration writes shared by the admin CLI and the local demo: validate with the functions' own models."""

from __future__ import annotations

import secrets
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from callhook.errors import (
    ActionError,
    CallhookError,
    DependencyUnavailableError,
    DialogNotFoundError,
    WebhookRejectedError,
)
from callhook.mapping import map_telephony
from callhook.models.action import ActionRunRequest, EnrichmentResult, HttpAction, LambdaAction, parse_action
from callhook.models.api import WebhookRequest
from callhook.models.call import MappingWarning, Telephony
from callhook.models.channel import Channel
from callhook.models.dialog import (
    Dialog,
    Enrichment,
    EnrichmentStatus,
    Policy,
    Reason,
    TopicResolution,
    Workflow,
    make_dialog_id,
)
from callhook.models.directory import DEFAULT_OPERATOR_SETTING, Operator, Topic
from callhook.models.event import RawEvent, RawEventKind
from callhook.models.problems import InvalidItem, problems_of
from callhook.models.workflow import StateEnrichment, WorkflowState
from callhook.presets import effective_channel
from callhook.repositories.config import (
    ConfigTable,
    VersionConflictError,
    clear_channel_cache,
    get_channel,
    read_operator_item,
)
from callhook.repositories.dialogs import DialogRepository, utc_now
from callhook.repositories.directory import DynamoOperators, DynamoTopics, load_action
from callhook.repositories.events import EventRepository
from callhook.services import ingest
from callhook.services.actions import preview_request, run_action
from callhook.services.assignment import candidates, resolve
from callhook.services.enrichment import action_state
from callhook.services.history import dialog_executions, execution_name
from callhook.services.topics import resolve_topic
from callhook.services.workflow import start_workflow
from callhook.settings import CommonSettings, IngestSettings


def new_webhook_token() -> str:
    return secrets.token_urlsafe(24)


def put_channel(table: str, data: dict[str, Any], *, expected_version: int | None = None) -> Channel:
    """Validate (raising pydantic's ValidationError with every field path), fill a token, bump the version.

    Raises:
        pydantic.ValidationError: the item is invalid; nothing is written.
        VersionConflictError: `expected_version` given and someone else saved the channel meanwhile.
    """
    data = dict(data)
    if not data.get("webhook_token") and not data.get("signature"):
        data["webhook_token"] = new_webhook_token()
    channel = Channel.model_validate(data)
    saved = _save_versioned(ConfigTable(table, "channel_id"), channel.channel_id, channel, expected_version)
    clear_channel_cache()
    return saved


VersionedItem = TypeVar("VersionedItem", bound=BaseModel)  # a Channel or an Action: both carry `version`


def _save_versioned(store: ConfigTable, item_id: str, item: VersionedItem,
                    expected_version: int | None) -> VersionedItem:
    """Store `item` as the next version: refused if `expected_version` is given and stale, and conditional on the
    version read, so two admins saving at once cannot silently overwrite each other."""
    current = store.get(item_id)
    version = int(current.get("version", 0)) if current else 0
    if expected_version is not None and expected_version != version:
        raise VersionConflictError(f"{item_id} is at version {version}, not {expected_version}")
    saved = item.model_copy(update={"version": version + 1})
    store.put(saved.model_dump(mode="json", exclude_none=True), expected_version=version if current else None)
    return saved


def put_operator(table: str, data: dict[str, Any]) -> Operator:
    """Validate and store an operator with its derived index keys (a stored item's own keys are recomputed)."""
    operator = Operator.from_item(data)
    ConfigTable(table, "user_id", "N").put(operator.item())
    return operator


def put_topic(table: str, data: dict[str, Any]) -> Topic:
    topic = Topic.model_validate(data)
    ConfigTable(table, "alias").put(topic.model_dump(mode="json"))
    return topic


def set_setting(table: str, key: str, value: Any) -> None:
    ConfigTable(table, "key").put({"key": key, "value": value})


# ---------------------------------------------------------------------------------------------------------------------
# Admin and ops operations of the `callhook` CLI (issue 5). Reads and writes of configuration items, replays and the
# action test, each through the same models and services the functions use.
#


class AdminError(CallhookError):
    """An admin operation that cannot be done as asked (unknown id, nothing to replay, ...); the CLI prints it."""


class ItemNotFoundError(AdminError):
    pass


class NotReplayableError(AdminError):
    pass


# Instance settings the services read, with the type each must have. An unknown key is refused unless forced: a
# typo in a setting name would otherwise be silently ignored by everything that reads settings.
KNOWN_SETTINGS: dict[str, type] = {DEFAULT_OPERATOR_SETTING: int}


def channel_item(table: str, channel_id: str) -> dict[str, Any] | None:
    """The stored channel as is (even one that fails validation, so that the admin can see and fix it)."""
    return ConfigTable(table, "channel_id").get(channel_id)


def channel_items(table: str) -> list[dict[str, Any]]:
    return sorted(ConfigTable(table, "channel_id").scan_all(), key=lambda i: str(i.get("channel_id")))


def delete_channel(table: str, channel_id: str) -> bool:
    """Remove the channel; its webhooks then answer 404. Returns False when there was no such channel."""
    deleted = ConfigTable(table, "channel_id").delete(channel_id)
    clear_channel_cache()
    return deleted


def operator_items(table: str) -> list[Operator | InvalidItem]:
    """Every operator, an invalid item (written by hand with a typo) marked as such with its problems rather than
    failing the listing."""
    entries = [read_operator_item(i) for i in ConfigTable(table, "user_id", "N").scan_all()]
    return sorted(entries, key=lambda e: str(e.user_id if isinstance(e, Operator) else e.item_id).zfill(20))


def topic_items(table: str) -> list[Topic | InvalidItem]:
    entries: list[Topic | InvalidItem] = []
    for item in ConfigTable(table, "alias").scan_all():
        try:
            entries.append(Topic.model_validate(item))
        except ValidationError as exc:
            entries.append(InvalidItem(item_id=str(item.get("alias")), problems=problems_of(exc)))
    return sorted(entries, key=lambda e: e.alias if isinstance(e, Topic) else e.item_id)


def action_item(table: str, action_id: str) -> dict[str, Any] | None:
    return ConfigTable(table, "action_id").get(action_id)


def action_items(table: str) -> list[dict[str, Any]]:
    return sorted(ConfigTable(table, "action_id").scan_all(), key=lambda i: str(i.get("action_id")))


def put_action(table: str, data: dict[str, Any], *, expected_version: int | None = None) -> HttpAction | LambdaAction:
    """Validate and store an action, bumping its version; conditional on `expected_version` like put_channel.

    Raises:
        pydantic.ValidationError: the item is invalid; nothing is written.
        VersionConflictError: someone saved the action since version `expected_version`.
    """
    action = parse_action(data)
    return _save_versioned(ConfigTable(table, "action_id"), action.action_id, action, expected_version)


def setting_items(table: str) -> dict[str, Any]:
    return {str(i["key"]): i.get("value") for i in ConfigTable(table, "key").scan_all()}


def parse_setting(key: str, value: Any, *, force: bool = False) -> Any:
    """The value a known setting must hold (`"2"` -> 2 for an operator id).

    Raises:
        ValueError: an unknown key (unless `force`) or a value of the wrong type.
    """
    kind = KNOWN_SETTINGS.get(key)
    if kind is None:
        if force:
            return value
        raise ValueError(f"unknown setting {key!r}; known: {', '.join(sorted(KNOWN_SETTINGS))} (use --force to "
                         "write another key anyway)")
    if kind is int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValueError(f"{key} must be an integer (an operator's user_id), not {value!r}") from None
        if number < 0:
            raise ValueError(f"{key} must be >= 0, not {number}")
        return number
    return value


# --------------------------------------------------------------------------------------------------------- replays
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


REPLAYABLE_KINDS = frozenset({RawEventKind.REJECTED, RawEventKind.REPLAYED})


def stored_webhook_request(event: RawEvent) -> WebhookRequest:
    """The request of a raw event as ingest sees requests (it was stored without its credentials)."""
    return ingest.webhook_request_from(event.channel_id, event.request)


def replay_event(event_id: str, settings: IngestSettings) -> EventReplay:
    """Run a kept request through ingest again (after the admin fixed the mapping, activated the channel, ...).

    Authentication is bypassed on purpose, and only here: the stored request has no credentials (they are never
    kept), and the admin replaying it is authenticated by AWS IAM. Everything after authentication is the webhook
    path itself (`callhook.services.ingest`), with the channel read fresh. The event is marked `replayed` with the
    resulting dialog; one that is rejected again keeps its kind and records the new reason.

    Raises:
        ItemNotFoundError: no such event.
        NotReplayableError: an update event (those are applied when their call arrives, not replayed).
        DependencyUnavailableError: DynamoDB or Step Functions failed; replaying again is safe.
    """
    events = EventRepository(settings.events_table)
    event = events.get(event_id)
    if event is None:
        raise ItemNotFoundError(f"no raw event {event_id!r}")
    if event.kind == RawEventKind.HELD:
        raise NotReplayableError(f"event {event_id} is held: it becomes a dialog by itself as soon as channel "
                                 f"{event.channel_id!r} is valid again (`callhook channel check {event.channel_id}` "
                                 "names what to fix)")
    if event.kind not in REPLAYABLE_KINDS:
        raise NotReplayableError(f"event {event_id} is a {event.kind.value} event: update events are applied when "
                                 "their call arrives, they are not replayed")
    fresh = settings.model_copy(update={"channel_cache_seconds": 0})
    request = stored_webhook_request(event)
    try:
        channel = ingest.load_channel(event.channel_id, fresh)
        answer = ingest.accept_authenticated(channel, request, fresh)
    except WebhookRejectedError as exc:
        events.mark(event_id, event.kind, last_replay_at=utc_now(), last_replay_reason=exc.reason,
                    last_replay_message=exc.message)
        return EventReplay(event_id=event_id, channel_id=event.channel_id, outcome="rejected", reason=exc.reason,
                           message=exc.message, status_code=exc.status_code)
    marks: dict[str, Any] = {"replayed_at": utc_now(), "replay_status": answer.status}
    if answer.dialog_id:  # dialog_id keys a sparse index: set it only with a value
        marks["dialog_id"] = answer.dialog_id
    events.mark(event_id, RawEventKind.REPLAYED, **marks)
    return EventReplay(event_id=event_id, channel_id=event.channel_id, outcome=answer.status,
                       dialog_id=answer.dialog_id, reason=answer.reason)


def replayable_events(events_table: str, channel_id: str) -> list[RawEvent]:
    """The channel's rejected events, oldest first (the order their calls happened)."""
    repo, found, start = EventRepository(events_table), [], None
    while True:
        page, start = repo.list_by_channel(channel_id, limit=100, start_key=start)
        found += [e for e in page if e.kind == RawEventKind.REJECTED]
        if not start:
            return sorted(found, key=lambda e: e.received_at)


class DialogReplay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dialog_id: str
    replay: int
    execution_name: str
    execution_arn: str


def replay_dialog(dialog_id: str, settings: IngestSettings) -> DialogReplay:
    """Run the dialog's workflow again: a new execution named `<dialog_id>-r<N>` for the same, stored dialog.

    The steps overwrite their own sections, so a replay converges on what the current configuration gives. The
    enrichment section is reset to pending first, so that a failure of this run is reported as this run's.

    Raises:
        DialogNotFoundError: no such dialog.
        NotReplayableError: an execution of the dialog is still running.
        DependencyUnavailableError: Step Functions refused or was unreachable.
    """
    dialogs = DialogRepository(settings.dialogs_table)
    dialog = dialogs.get(dialog_id)
    if dialog is None:
        raise DialogNotFoundError(f"no dialog {dialog_id!r}")
    executions = dialog_executions(settings.state_machine_arn, dialog_id)
    running = [e["name"] for e in executions if e["status"] == "RUNNING"]
    if running:
        raise NotReplayableError(f"execution {running[-1]} of dialog {dialog_id} is still running; replay it after "
                                 "it ends (`callhook execution history` shows where it is)")
    replay = len(executions)
    name = execution_name(dialog_id, replay)
    sections: dict[str, Any] = {"workflow": Workflow().model_dump(mode="json")}
    if dialog.policy.enrich_action:
        sections["enrichment"] = Enrichment(status=EnrichmentStatus.PENDING,
                                            action_id=dialog.policy.enrich_action).model_dump(mode="json")
    dialogs.set_sections(dialog_id, sections)
    arn = start_workflow(settings.state_machine_arn, dialog, execution_name=name)
    dialogs.set_sections(dialog_id, {"execution_arn": arn})
    return DialogReplay(dialog_id=dialog_id, replay=replay, execution_name=name, execution_arn=arn)


# ----------------------------------------------------------------------------------------------------- action test
class ActionTestReport(BaseModel):
    """`callhook action test`: the same run the Enrich step makes, and what assignment and topic would do with it."""

    model_config = ConfigDict(extra="forbid")

    action_id: str
    ok: bool
    full_state: bool
    channel_id: str | None = None
    telephony: dict[str, Any]
    mapping_warnings: list[MappingWarning] = Field(default_factory=list)
    request: ActionRunRequest | None = None  # secrets shown as ***
    status_code: int | None = None
    elapsed_ms: int | None = None
    result: EnrichmentResult | None = None
    error: dict[str, Any] | None = None  # {"type", "code", "message", ..., "retryable"}
    operator_id: int | None = None  # the operator assignment would pick (None: no match)
    operator_attempts: list[Reason] = Field(default_factory=list)
    topic: TopicResolution | None = None


def sample_telephony(sample: dict[str, Any], channel: Channel | None) -> tuple[Telephony, list[MappingWarning]]:
    """The call to test with: a `telephony` block as is, or a provider's raw body through the channel's mapping.

    Raises:
        pydantic.ValidationError: the `telephony` block is invalid.
        AdminError: neither form applies, or the mapping finds no call_id.
    """
    if "telephony" in sample:
        return Telephony.model_validate(sample["telephony"]), []
    if channel is None:
        raise AdminError("the sample has no `telephony` block: pass one (as the Enrich step receives it), or pass "
                         "--channel C to map a provider's raw webhook body with C's field_mapping")
    config = channel.advanced_config
    telephony, warnings = map_telephony(sample, config.field_mapping, timezone=config.timezone,
                                        default_region=config.default_region)
    if telephony is None:
        detail = "; ".join(f"{w.field}: {w.reason}" for w in warnings)
        raise AdminError(f"channel {channel.channel_id}'s mapping finds no call_id in the sample ({detail}); "
                         f"the body's top-level keys are {sorted(sample)[:20]}")
    return telephony, warnings


def try_action(action_id: str, sample: dict[str, Any], settings: CommonSettings, *, channel_id: str | None = None,
                full_state: bool = False) -> ActionTestReport:
    """Run an action on a sample call exactly as the Enrich step would, then resolve operator and topic from it.

    A failing action is a report with `ok=False` and the error (with whether Step Functions would retry it), not
    an exception: the failure is what the admin is testing for.

    Raises:
        ActionNotFoundError: no such action, or the stored item is invalid (every problem named).
        ItemNotFoundError: `channel_id` names no channel.
        ChannelConfigError: the channel, merged with its preset, is invalid.
        AdminError, pydantic.ValidationError: the sample cannot become a call.
    """
    action = load_action(settings.actions_table, action_id)
    channel = None
    if channel_id is not None:
        stored = get_channel(settings.channels_table, channel_id)
        if stored is None:
            raise ItemNotFoundError(f"no channel {channel_id!r}")
        channel = effective_channel(stored)  # with its preset's mapping, as ingest maps real calls
    telephony, warnings = sample_telephony(sample, channel)
    cid = channel_id or "action-test"
    dialog = Dialog(dialog_id=make_dialog_id(cid, telephony.call_id), channel_id=cid, call_id=telephony.call_id,
                    created_at=utc_now(), telephony=telephony, mapping_warnings=warnings,
                    policy=Policy(enrich_action=action_id), enrichment=Enrichment(status=EnrichmentStatus.PENDING,
                                                                                  action_id=action_id))
    state = action_state(dialog, channel, full_state=full_state)
    report = ActionTestReport(action_id=action_id, ok=False, full_state=full_state, channel_id=channel_id,
                              telephony=telephony.model_dump(mode="json"), mapping_warnings=warnings)
    try:
        run = run_action(action, state)
    except (ActionError, DependencyUnavailableError) as exc:
        report.error = action_error_details(exc)
        report.request = preview_request(action, state)
        return report
    report.ok, report.request, report.status_code = True, run.request, run.status_code
    report.elapsed_ms, report.result = run.elapsed_ms, run.result
    workflow_state = WorkflowState(
        dialog_id=dialog.dialog_id, channel_id=cid, call_id=telephony.call_id, enrich_action=action_id,
        enrichment=StateEnrichment(status=EnrichmentStatus.OK, topic=run.result.topic))
    enriched = dialog.model_copy(update={"enrichment": Enrichment(
        status=EnrichmentStatus.OK, action_id=action_id, result=run.result.model_dump(mode="json"))})
    operators = DynamoOperators(settings.operators_table)
    for source, value in candidates(workflow_state, enriched):
        operator, reason = resolve(source, value, operators)
        report.operator_attempts.append(reason)
        if operator is not None:
            report.operator_id = operator.user_id
            break
    report.topic = resolve_topic(run.result.topic, EnrichmentStatus.OK.value, DynamoTopics(settings.topics_table))
    return report


def action_error_details(exc: ActionError | DependencyUnavailableError) -> dict[str, Any]:
    """The ActionError behind a failure (a transient one chains it), and whether Step Functions retries it."""
    retryable = isinstance(exc, DependencyUnavailableError)
    cause = exc.__cause__ if retryable else exc
    if isinstance(cause, ActionError):
        details = cause.as_dict()
        if retryable:
            details["message"] = str(exc)
    else:
        details = {"type": type(exc).__name__, "code": "unavailable", "message": str(exc)}
    return {**details, "retryable": retryable}
