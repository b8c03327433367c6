"""Webhook -> stored dialog -> started workflow (docs/webhook-api.md). Every decision of the webhook API lives here.

Pure (docs/design.md): the channels, the dialogs and raw events tables, the spool, Step Functions and the recording
request are `IngestPorts`, built once per sandbox by functions/ingest/app.py (callhook/ingest_wiring.py), and by
the other doors that run a kept request through ingest again (Reconcile, ReleaseHeld, `callhook events replay`).
The adapters translate AWS's errors; what is left here is which store keeps the request, and what is answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from callhook.clock import utc_now
from callhook.errors import (
    ChannelConfigError,
    ChannelInactiveError,
    ChannelMisconfiguredError,
    ChannelNotFoundError,
    DependencyUnavailableError,
    DialogExistsError,
    DialogStoreUnavailableError,
    ItemRefusedError,
    MissingCallIdError,
    PayloadTooLargeError,
    UnauthorizedError,
    WebhookRejectedError,
)
from callhook.mapping import evaluate_condition, map_telephony, parse_body, parse_query
from callhook.models.api import SPOOLED_REASON, HandshakeAnswer, WebhookAnswer, WebhookRequest
from callhook.models.call import MappingWarning, Telephony
from callhook.models.channel import Channel, effective_channel, parse_channel
from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus, Policy, Recording, make_dialog_id
from callhook.models.event import RawEvent, RawEventKind, SpooledRequest
from callhook.models.workflow import execution_arn_for
from callhook.observability import logger
from callhook.services.auth import authenticate
from callhook.services.handshakes import handshake_answer
from callhook.services.payloads import offload_raw
from callhook.services.raw_events import new_event_id, rejected_event, stored_request
from callhook.services.raw_events import webhook_request_from as webhook_request_from  # replay reads it here
from callhook.services.retention import expires_at, retention_days
from callhook.services.workflow_steps import workflow_input
from callhook.settings import IngestSettings

if TYPE_CHECKING:  # annotations only: the ports add nothing to the webhook path's cold import
    from callhook.ports import (
        EventLog,
        Executions,
        IngestChannels,
        NewDialogs,
        Payloads,
        RecordingRequests,
        Secrets,
        Spool,
    )

# DynamoDB items are capped at 400 KB: a value no telephony field needs this long would make the dialog (or its
# update) unstorable on every retry. call_id keys the dialog, so an oversized one refuses the call (413); another
# field is left null and named in mapping_warnings, like any value that cannot be coerced.
MAX_CALL_ID_CHARS = 512
MAX_FIELD_CHARS = 4096
# Fields of a channel item that authenticate its webhooks (and answer its provider's URL check). When the rest of
# the item is invalid, these alone still tell a genuine request from a forged one, so its calls can be held.
CREDENTIAL_FIELDS = ("channel_id", "active", "webhook_token", "signature", "public_url")
CREDENTIAL_CONFIG_FIELDS = ("preset", "handshake")
UNUSABLE_CHANNEL_MESSAGE = ("this channel's configuration is invalid and cannot authenticate requests; its admin "
                            "sees why with `callhook channel check {channel_id}`")


@dataclass(frozen=True)
class IngestPorts:
    """What ingest reads and writes. The adapters turn every AWS failure of a write into
    DependencyUnavailableError, which ingest answers by keeping the request in the next store (or 503)."""

    channels: IngestChannels  # cached per sandbox on the webhook path; fresh for kept requests and replays
    dialogs: NewDialogs
    events: EventLog
    spool: Spool
    executions: Executions
    recordings: RecordingRequests
    secrets: Secrets  # signature secrets given as `ssm:` references
    payloads: Payloads  # what does not fit the dialog item (services/payloads.py)


@dataclass(frozen=True)
class ChannelView:
    """The channel as ingest can use it. `problems` set: the stored item is invalid, and `channel` holds only the
    fields that authenticate its requests (their webhooks are then held, not processed)."""

    channel: Channel
    problems: str | None = None


def ingest_webhook(request: WebhookRequest, io: IngestPorts,
                   settings: IngestSettings) -> WebhookAnswer | HandshakeAnswer:
    """Authenticate, map and store one webhook, then start its workflow.

    Answered 2xx ⇔ durably kept (docs/webhook-api.md). After authentication the request is kept whatever fails
    next: as a dialog; as a *held* raw event when the channel item is invalid but still authenticates (202
    `held`); in the spool (S3) when the tables cannot take it (202); a stored dialog whose workflow could not start
    is answered 200 `accepted` and started by the reconciler. Only a request that no store took is answered 503.

    A provider's URL check (the channel's handshake) is answered first and stores nothing; it carries no call data,
    which is why it needs no credentials. Every other request is authenticated before anything is parsed.

    Raises:
        WebhookRejectedError: a leaf per HTTP status (docs/webhook-api.md); authenticated 403/422 payloads are
            stored first.
        DependencyUnavailableError: no durable store took the request; answered 503 so that the provider retries.
    """
    admitted = admit(request, io, settings)
    if isinstance(admitted, HandshakeAnswer):
        logger.info("provider URL check answered", check=admitted.provider_check)
        return admitted
    view, request = admitted
    channel = view.channel
    received_at = utc_now()
    if view.problems is not None:
        answer = hold(channel.channel_id, request, view.problems, received_at, io, settings)
    else:
        try:
            answer = accept_authenticated(channel, request, io, settings, received_at=received_at)
        except WebhookRejectedError as exc:
            if exc.store_raw_event:
                keep_rejected(request, exc, received_at, io, expires=expiry(channel, settings, received_at))
            raise
        except DialogStoreUnavailableError as exc:
            answer = spool(request, received_at, io, reason="dialog_store_unavailable", detail=str(exc),
                           dialog_id=exc.dialog_id)
    return answer.model_copy(update={"overrides": channel.advanced_config.answer or {}})


def admit(request: WebhookRequest, io: IngestPorts,
          settings: IngestSettings) -> tuple[ChannelView, WebhookRequest] | HandshakeAnswer:
    """The channel and the authenticated request (stripped of its credentials), or the provider's URL check answer.

    The channel item and its signature secret are cached briefly per sandbox. An admin who rotates a token in the
    console expects the provider's next request, with the new token, to be accepted, and most providers never
    resend a 4xx. So a refusal that rests on the cached copies (unknown channel, wrong credentials, channel not
    active) is decided again on the item and the secret read fresh; an accepted request costs nothing more. A
    replaced or deactivated credential is refused once the cached copy ages out (`CHANNEL_CACHE_SECONDS`).

    Raises:
        ChannelNotFoundError, UnauthorizedError, PayloadTooLargeError, ChannelMisconfiguredError: as ingest answers.
        ChannelInactiveError is left to `accept_authenticated`, which keeps the authenticated payload first.
    """
    try:
        return _admit(request, io, settings, fresh=False)
    except (ChannelNotFoundError, UnauthorizedError, ChannelInactiveError) as exc:
        logger.info("refusal re-checked on the stored item", reason=exc.reason)
    return _admit(request, io, settings, fresh=True)


def _admit(request: WebhookRequest, io: IngestPorts, settings: IngestSettings, *,
           fresh: bool) -> tuple[ChannelView, WebhookRequest] | HandshakeAnswer:
    view = load_channel_view(request.channel_id, io, fresh=fresh)
    channel = view.channel
    handshake = handshake_answer(channel, request)
    if handshake is not None:
        return handshake
    if len(request.body) > settings.max_body_bytes:
        raise PayloadTooLargeError(f"body is {len(request.body)} bytes; the limit is {settings.max_body_bytes}")
    authenticated = authenticate(channel, request, _FreshSecrets(io.secrets) if fresh else io.secrets)
    if not fresh and not channel.active and view.problems is None:
        raise ChannelInactiveError(f"channel {channel.channel_id!r} is not active")
    return view, authenticated


@dataclass(frozen=True)
class _FreshSecrets:
    """The secrets port reading every secret anew (and caching that copy), for a refusal's second look."""

    secrets: Secrets

    def read(self, reference: str, *, fresh: bool = False) -> str:
        return self.secrets.read(reference, fresh=True)


def load_channel_view(channel_id: str, io: IngestPorts, *, fresh: bool = False) -> ChannelView:
    """The channel, or, when its item is invalid, the part of it that still authenticates (its calls are held).

    Raises:
        ChannelNotFoundError: no such channel (404).
        ChannelMisconfiguredError: the item is invalid and not even its credentials are usable (503, nothing is
            stored: nothing can tell the provider's request from a forged one). The answer names no detail of the
            configuration; the log and `callhook channel check` do.
    """
    try:
        return ChannelView(load_channel(channel_id, io, fresh=fresh))
    except ChannelMisconfiguredError:
        pass
    # The cached item may be stale (the admin may have fixed it a moment ago): one uncached read decides.
    item = io.channels.item(channel_id)
    if item is None:
        raise ChannelNotFoundError(f"no channel {channel_id!r}")
    try:
        return ChannelView(effective_channel(parse_channel(item)))
    except ChannelConfigError as exc:
        problems = str(exc)
    credentials = credentials_only(item)
    if credentials is None:
        logger.error("channel item invalid and unable to authenticate: webhooks refused", channel_id=channel_id,
                     problems=problems)
        raise ChannelMisconfiguredError(UNUSABLE_CHANNEL_MESSAGE.format(channel_id=channel_id))
    logger.warning("channel item invalid: its webhooks are held until it is fixed", channel_id=channel_id,
                   problems=problems)
    return ChannelView(credentials, problems)


def credentials_only(item: dict[str, Any]) -> Channel | None:
    """A channel built from the item's authenticating fields alone, or None when even those are invalid."""
    subset = {name: item[name] for name in CREDENTIAL_FIELDS if name in item}
    config = item.get("advanced_config")
    if isinstance(config, dict):
        subset["advanced_config"] = {name: config[name] for name in CREDENTIAL_CONFIG_FIELDS if name in config}
    try:
        return effective_channel(Channel.model_validate(subset))
    except (ValidationError, ChannelConfigError):
        return None


def load_channel(channel_id: str, io: IngestPorts, *, fresh: bool = False) -> Channel:
    """The channel as ingest uses it: the stored item with its preset's fields filled in (callhook.presets)."""
    try:
        channel = io.channels.get(channel_id, fresh=fresh)
        if channel is None:
            raise ChannelNotFoundError(f"no channel {channel_id!r}")
        return effective_channel(channel)
    except ChannelConfigError as exc:
        raise ChannelMisconfiguredError(str(exc)) from exc


def parse_request(request: WebhookRequest) -> dict[str, Any]:
    """The body as an object: JSON or form for POST, the query for GET (authenticate removed our token)."""
    if request.method == "GET":
        return parse_query(request.raw_query)
    return parse_body(request.body, request.content_type)


def accept_authenticated(channel: Channel, request: WebhookRequest, io: IngestPorts, settings: IngestSettings, *,
                         received_at: str | None = None) -> WebhookAnswer:
    """Everything after authentication: parse, select, map, store and start. `callhook events replay` and the
    processing of held and spooled requests run this too (a kept request carries no credentials), with the time
    the request arrived as `received_at`, so that the dialog is the one it would have been.

    Raises:
        WebhookRejectedError: the request cannot become a dialog (403, 413, 415, 400, 422).
        DialogStoreUnavailableError: the tables could not take the call (the caller spools it).
    """
    if not channel.active:
        raise ChannelInactiveError(f"channel {channel.channel_id!r} is not active")
    body = parse_request(request)
    config = channel.advanced_config
    if config.accept_when and not evaluate_condition(config.accept_when, body, timezone=config.timezone):
        return WebhookAnswer(status="ignored", reason=f"accept_when is false: {config.accept_when}")
    telephony, mapping_warnings = map_telephony(body, config.field_mapping, timezone=config.timezone,
                                                default_region=config.default_region)
    if telephony is None:
        expr = config.mapping_for("call_id")
        raise MissingCallIdError(f"no call_id after mapping: expression {expr!r} found nothing in the body "
                                 f"(top-level keys: {sorted(body)[:20]})")
    telephony, size_warnings = within_size_limits(telephony)
    warnings = [w.model_dump(mode="json") for w in mapping_warnings] + size_warnings
    if config.update_when and evaluate_condition(config.update_when, body, timezone=config.timezone):
        return apply_update(channel, request, telephony, io, settings, received_at=received_at)
    dialog = new_dialog(channel, telephony, warnings, settings, created_at=received_at)
    return store_and_start(dialog, io)


def within_size_limits(telephony: Telephony) -> tuple[Telephony, list[dict[str, Any]]]:
    """The call with every oversized canonical field left null and named, as an uncoercible value is.

    Raises:
        PayloadTooLargeError: the call_id itself is over the limit (it keys the dialog: nothing to keep it by).
    """
    if len(telephony.call_id) > MAX_CALL_ID_CHARS:
        raise PayloadTooLargeError(f"call_id is {len(telephony.call_id)} characters; the limit is "
                                   f"{MAX_CALL_ID_CHARS}")
    oversized = {name: value for name, value in telephony.canonical().items()
                 if isinstance(value, str) and len(value) > MAX_FIELD_CHARS}
    warnings = [MappingWarning(field=name, value=value[:64] + "…",
                               reason=f"{len(value)} characters; the limit is {MAX_FIELD_CHARS}",
                               ).model_dump(mode="json") for name, value in oversized.items()]
    return telephony.model_copy(update=dict.fromkeys(oversized)), warnings


def new_dialog(channel: Channel, telephony: Telephony, warnings: list[dict[str, Any]],
               settings: IngestSettings, *, created_at: str | None = None) -> Dialog:
    dialog_id = make_dialog_id(channel.channel_id, telephony.call_id)
    action = channel.webhook_enrich_action
    created_at = created_at or utc_now()
    days = retention_days(channel.retention_days, settings.default_retention_days)
    return Dialog(
        dialog_id=dialog_id, channel_id=channel.channel_id, call_id=telephony.call_id,
        created_at=created_at, expires_at=expires_at(created_at, days),
        telephony=telephony, mapping_warnings=warnings,
        policy=Policy(enrich_action=action, enrich_error_action=channel.enrich_error_action,
                      auto_transcription=channel.auto_transcription, retention_days=days),
        enrichment=Enrichment(status=EnrichmentStatus.PENDING if action else EnrichmentStatus.DISABLED,
                              action_id=action),
        execution_arn=execution_arn_for(settings.state_machine_arn, dialog_id),
        recording=Recording() if telephony.recording_url else None,  # pending: KeepRecording copies it
    )


def store_and_start(dialog: Dialog, io: IngestPorts) -> WebhookAnswer:
    """Durable first, then the workflow. A re-delivery finds the stored dialog and (re)starts only if needed.

    Once the dialog is stored the call is kept: a workflow that cannot start now is started by the reconciler (the
    dialog stays in its workflow-pending index), so the answer is still `accepted`.

    Raises:
        DialogStoreUnavailableError: the dialog could not be written (the caller spools the request).
    """
    status = "accepted"
    try:
        dialog = offload_raw(dialog, io.payloads)
        io.dialogs.put_new(dialog)
    except DialogExistsError as exc:
        if dialog.raw_ref is not None and (exc.existing.raw_ref is None
                                           or exc.existing.raw_ref.s3_key != dialog.raw_ref.s3_key):
            discard_payload(dialog.raw_ref.s3_key, io)  # another body of the same call: the stored dialog wins
        dialog, status = exc.existing, "duplicate"
    except (DependencyUnavailableError, ItemRefusedError) as exc:
        raise DialogStoreUnavailableError(str(exc), dialog_id=dialog.dialog_id) from exc
    if status == "accepted" and dialog.telephony.recording_url:
        # Asynchronous: links expire in minutes, enrichment may be slow. put_new marked it for reconciliation.
        io.recordings.request(dialog.dialog_id, marked=True)
    reason = None
    if status == "accepted" or dialog.workflow.status == "pending":
        # On a duplicate whose workflow never ran (StartExecution failed the first time), this is the recovery.
        try:
            io.executions.start(dialog.dialog_id, workflow_input(dialog))
        except DependencyUnavailableError as exc:
            logger.warning("workflow not started; the reconciler starts it", dialog_id=dialog.dialog_id,
                           error=str(exc))
            reason = "workflow_start_deferred"
    logger.info("webhook stored", dialog_id=dialog.dialog_id, call_id=dialog.call_id, status=status)
    return WebhookAnswer(status=status, dialog_id=dialog.dialog_id, reason=reason)


def discard_payload(key: str, io: IngestPorts) -> None:
    """Best effort: an object left behind lies under its dialog's prefix, where erasure finds it."""
    try:
        io.payloads.delete(key)
    except (DependencyUnavailableError, ItemRefusedError) as exc:
        logger.warning("payload of a duplicate not deleted", key=key, error=str(exc))


def apply_update(channel: Channel, request: WebhookRequest, telephony: Telephony, io: IngestPorts,
                 settings: IngestSettings, *, received_at: str | None = None) -> WebhookAnswer:
    """Fill the call's empty fields; if the call is not stored yet, keep the update for when it is.

    Both sides write first and check second (here: store the pending update, then look for the dialog again; the
    workflow's first step: the dialog exists, then it reads pending updates), so no interleaving loses an update.

    Raises:
        DialogStoreUnavailableError: the tables could not take the update (the caller spools the request).
    """
    dialog_id = make_dialog_id(channel.channel_id, telephony.call_id)
    fields = {k: v for k, v in telephony.canonical().items() if k != "call_id"}
    dialogs, events = io.dialogs, io.events
    try:
        if dialogs.fill_telephony(dialog_id, fields) is not None:
            return _update_applied(dialog_id, fields, io)
        event = RawEvent(event_id=new_event_id(), channel_id=channel.channel_id,
                         received_at=received_at or utc_now(), kind=RawEventKind.PENDING_UPDATE,
                         dialog_id=dialog_id, update_fields=fields, reason="call_not_stored_yet",
                         request=stored_request(request),
                         expires_at=expiry(channel, settings, received_at or utc_now()))
        events.put(event)
        if dialogs.fill_telephony(dialog_id, fields) is not None:
            events.mark(event.event_id, RawEventKind.APPLIED_UPDATE, applied_at=utc_now())
            return _update_applied(dialog_id, fields, io)
    except (DependencyUnavailableError, ItemRefusedError) as exc:
        raise DialogStoreUnavailableError(str(exc), dialog_id=dialog_id) from exc
    return WebhookAnswer(status="accepted", dialog_id=dialog_id, reason="update kept until the call arrives")


def _update_applied(dialog_id: str, fields: dict[str, Any], io: IngestPorts) -> WebhookAnswer:
    if "recording_url" in fields:
        io.recordings.request(dialog_id)  # KeepRecording is idempotent: a URL already kept is not fetched again
    return WebhookAnswer(status="accepted", dialog_id=dialog_id, reason="update applied")


def hold(channel_id: str, request: WebhookRequest, problems: str, received_at: str, io: IngestPorts,
         settings: IngestSettings) -> WebhookAnswer:
    """Keep an authenticated request of a channel whose item is invalid; it becomes a dialog once the item is fixed
    (callhook.services.kept). The problems are stored for the admin, never answered to the caller.

    Raises:
        DependencyUnavailableError: neither the events table nor the spool took it (503).
    """
    event = RawEvent(event_id=new_event_id(), channel_id=channel_id, received_at=received_at, kind=RawEventKind.HELD,
                     held_channel=channel_id, reason="channel_misconfigured", message=problems,
                     request=stored_request(request),  # the item is unreadable: the stack's default retention
                     expires_at=expires_at(received_at, settings.default_retention_days))
    try:
        io.events.put(event)
    except (DependencyUnavailableError, ItemRefusedError) as exc:
        spool(request, received_at, io, reason="event_store_unavailable", detail=str(exc), event_id=event.event_id)
    logger.warning("webhook held: channel item invalid", event_id=event.event_id, channel_id=channel_id)
    return WebhookAnswer(status="held", reason="channel_misconfigured", event_id=event.event_id)


def spool(request: WebhookRequest, received_at: str, io: IngestPorts, *, reason: str, detail: str,
          dialog_id: str | None = None, event_id: str | None = None) -> WebhookAnswer:
    """Keep the request in the spool (S3), the store that shares no failure with the tables; the reconciler makes
    it the dialog it would have been (same id).

    Raises:
        DependencyUnavailableError: the spool failed too: nothing kept, 503 so that the provider retries.
    """
    record = SpooledRequest(event_id=event_id or new_event_id(), channel_id=request.channel_id,
                            received_at=received_at, reason=reason, message=detail, request=stored_request(request))
    io.spool.put(record)
    logger.warning("webhook spooled: the tables could not take it", event_id=record.event_id, reason=reason,
                   detail=detail, dialog_id=dialog_id)
    return WebhookAnswer(status="accepted", dialog_id=dialog_id, reason=SPOOLED_REASON, event_id=record.event_id)


def keep_rejected(request: WebhookRequest, exc: WebhookRejectedError, received_at: str, io: IngestPorts, *,
                  expires: int | None = None) -> None:
    """Store an authenticated request that cannot become a dialog (403, 422) as a raw event, or spool it.

    Raises:
        DependencyUnavailableError: neither store took it (503 instead of the rejection: the provider retries).
    """
    event = rejected_event(request, exc, received_at=received_at, expires=expires)
    try:
        io.events.put(event)
    except (DependencyUnavailableError, ItemRefusedError) as store_exc:
        spool(request, received_at, io, reason="event_store_unavailable", detail=str(store_exc),
              event_id=event.event_id)


def expiry(channel: Channel, settings: IngestSettings, received_at: str) -> int | None:
    """When a raw event of the channel received at `received_at` expires (its retention_days, else the stack's)."""
    return expires_at(received_at, retention_days(channel.retention_days, settings.default_retention_days))


@dataclass(frozen=True)
class KeptRequestsIngest:
    """The `callhook.ports.Ingest` adapter: ingest as kept requests go through it again (services/kept.py). Its
    composition root builds `io` reading the channel fresh (uncached: its item was just fixed)."""

    io: IngestPorts
    settings: IngestSettings

    def channel(self, channel_id: str) -> Channel:
        return load_channel(channel_id, self.io)

    def accept(self, channel: Channel, request: WebhookRequest, received_at: str) -> WebhookAnswer:
        return accept_authenticated(channel, request, self.io, self.settings, received_at=received_at)

    def expiry(self, channel: Channel | None, received_at: str) -> int | None:
        if channel is None:
            return expires_at(received_at, self.settings.default_retention_days)
        return expiry(channel, self.settings, received_at)
