"""Webhook -> stored dialog -> started workflow (CONTRACT §2). Every decision of the webhook API lives here."""

from __future__ import annotations

import base64
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

from callhook.errors import (
    ChannelConfigError,
    ChannelInactiveError,
    ChannelMisconfiguredError,
    ChannelNotFoundError,
    MissingCallIdError,
    PayloadTooLargeError,
    WebhookRejectedError,
)
from callhook.mapping import evaluate_condition, map_telephony, parse_body, parse_query
from callhook.models.api import HandshakeAnswer, WebhookAnswer, WebhookRequest
from callhook.models.call import Telephony
from callhook.models.channel import Channel
from callhook.models.dialog import Dialog, Enrichment, EnrichmentStatus, Policy, Recording, make_dialog_id
from callhook.models.event import RawEvent, RawEventKind, StoredRequest
from callhook.observability import logger
from callhook.presets import effective_channel
from callhook.repositories.config import get_channel
from callhook.repositories.dialogs import DialogExistsError, DialogRepository, utc_now
from callhook.repositories.events import EventRepository
from callhook.services.auth import TOKEN_HEADER, TOKEN_QUERY, authenticate
from callhook.services.handshakes import handshake_answer
from callhook.services.recordings import request_keep_recording
from callhook.services.retention import expires_at, retention_days
from callhook.services.workflow import execution_arn_for, start_workflow
from callhook.settings import IngestSettings

CREDENTIAL_HEADERS = frozenset({TOKEN_HEADER, "authorization", "cookie"})


def ingest_webhook(request: WebhookRequest, settings: IngestSettings) -> WebhookAnswer | HandshakeAnswer:
    """Authenticate, map and store one webhook, then start its workflow.

    A provider's URL check (the channel's handshake) is answered first and stores nothing; it carries no call data,
    which is why it needs no credentials. Every other request is authenticated before anything is parsed.

    Raises:
        WebhookRejectedError: a leaf per HTTP status of CONTRACT §2; authenticated 403/422 payloads are stored first.
        DependencyUnavailableError: DynamoDB or Step Functions failed; answered 503 so that the provider retries.
    """
    channel = load_channel(request.channel_id, settings)
    handshake = handshake_answer(channel, request)
    if handshake is not None:
        logger.info("provider URL check answered", check=handshake.provider_check)
        return handshake
    if len(request.body) > settings.max_body_bytes:
        raise PayloadTooLargeError(f"body is {len(request.body)} bytes; the limit is {settings.max_body_bytes}")
    request = authenticate(channel, request)
    try:
        answer = accept_authenticated(channel, request, settings)
    except WebhookRejectedError as exc:
        if exc.store_raw_event:
            EventRepository(settings.events_table).put(rejected_event(request, exc, expiry(channel, settings)))
        raise
    return answer.model_copy(update={"overrides": channel.advanced_config.answer or {}})


def load_channel(channel_id: str, settings: IngestSettings) -> Channel:
    """The channel as ingest uses it: the stored item with its preset's fields filled in (callhook.presets)."""
    try:
        channel = get_channel(settings.channels_table, channel_id, cache_seconds=settings.channel_cache_seconds)
        if channel is None:
            raise ChannelNotFoundError(f"no channel {channel_id!r}")
        return effective_channel(channel)
    except ChannelConfigError as exc:
        raise ChannelMisconfiguredError(str(exc)) from exc


def parse_request(request: WebhookRequest) -> dict[str, Any]:
    """The body as an object: JSON or form for POST, the query (minus our token) for GET."""
    if request.method == "GET":
        return {k: v for k, v in parse_query(request.raw_query).items() if k != TOKEN_QUERY}
    return parse_body(request.body, request.content_type)


def accept_authenticated(channel: Channel, request: WebhookRequest, settings: IngestSettings) -> WebhookAnswer:
    """Everything after authentication: parse, select, map, store and start. `callhook events replay` runs this too
    (the admin is authenticated by IAM; a stored request carries no credentials)."""
    if not channel.active:
        raise ChannelInactiveError(f"channel {channel.channel_id!r} is not active")
    body = parse_request(request)
    config = channel.advanced_config
    if config.accept_when and not evaluate_condition(config.accept_when, body, timezone=config.timezone):
        return WebhookAnswer(status="ignored", reason=f"accept_when is false: {config.accept_when}")
    telephony, warnings = map_telephony(body, config.field_mapping, timezone=config.timezone,
                                        default_region=config.default_region)
    if telephony is None:
        expr = config.mapping_for("call_id")
        raise MissingCallIdError(f"no call_id after mapping: expression {expr!r} found nothing in the body "
                                 f"(top-level keys: {sorted(body)[:20]})")
    if config.update_when and evaluate_condition(config.update_when, body, timezone=config.timezone):
        return apply_update(channel, request, telephony, settings)
    dialog = new_dialog(channel, telephony, [w.model_dump(mode="json") for w in warnings], settings)
    return store_and_start(dialog, settings)


def new_dialog(channel: Channel, telephony: Telephony, warnings: list[dict[str, Any]],
               settings: IngestSettings) -> Dialog:
    dialog_id = make_dialog_id(channel.channel_id, telephony.call_id)
    action = channel.webhook_enrich_action
    created_at, days = utc_now(), retention_days(channel.retention_days, settings.default_retention_days)
    return Dialog(
        dialog_id=dialog_id, channel_id=channel.channel_id, call_id=telephony.call_id, created_at=created_at,
        telephony=telephony, mapping_warnings=warnings, expires_at=expires_at(created_at, days),
        policy=Policy(enrich_action=action, enrich_error_action=channel.enrich_error_action,
                      auto_transcription=channel.auto_transcription, retention_days=days),
        enrichment=Enrichment(status=EnrichmentStatus.PENDING if action else EnrichmentStatus.DISABLED,
                              action_id=action),
        execution_arn=execution_arn_for(settings.state_machine_arn, dialog_id),
        recording=Recording() if telephony.recording_url else None,  # pending: KeepRecording copies it
    )


def store_and_start(dialog: Dialog, settings: IngestSettings) -> WebhookAnswer:
    """Durable first, then the workflow. A re-delivery finds the stored dialog and (re)starts only if needed."""
    status = "accepted"
    try:
        DialogRepository(settings.dialogs_table).put_new(dialog)
    except DialogExistsError as exc:
        dialog, status = exc.existing, "duplicate"
    if status == "accepted" and dialog.telephony.recording_url:
        # Asynchronous: links expire in minutes, enrichment may be slow. put_new marked it for reconciliation.
        request_keep_recording(dialog.dialog_id, marked=True)
    if status == "accepted" or dialog.workflow.status == "pending":
        # On a duplicate whose workflow never ran (StartExecution failed the first time), this is the recovery.
        start_workflow(settings.state_machine_arn, dialog)
    logger.info("webhook stored", dialog_id=dialog.dialog_id, call_id=dialog.call_id, status=status)
    return WebhookAnswer(status=status, dialog_id=dialog.dialog_id)


def apply_update(channel: Channel, request: WebhookRequest, telephony: Telephony,
                 settings: IngestSettings) -> WebhookAnswer:
    """Fill the call's empty fields; if the call is not stored yet, keep the update for when it is.

    Both sides write first and check second (here: store the pending update, then look for the dialog again; the
    workflow's first step: the dialog exists, then it reads pending updates), so no interleaving loses an update.
    """
    dialog_id = make_dialog_id(channel.channel_id, telephony.call_id)
    fields = {k: v for k, v in telephony.canonical().items() if k != "call_id"}
    dialogs = DialogRepository(settings.dialogs_table)
    if dialogs.fill_telephony(dialog_id, fields) is not None:
        return _update_applied(dialog_id, fields)
    events = EventRepository(settings.events_table)
    event = RawEvent(event_id=new_event_id(), channel_id=channel.channel_id, received_at=utc_now(),
                     kind=RawEventKind.PENDING_UPDATE, dialog_id=dialog_id, update_fields=fields,
                     reason="call_not_stored_yet", request=stored_request(request),
                     expires_at=expiry(channel, settings))
    events.put(event)
    if dialogs.fill_telephony(dialog_id, fields) is not None:
        events.mark(event.event_id, RawEventKind.APPLIED_UPDATE, applied_at=utc_now())
        return _update_applied(dialog_id, fields)
    return WebhookAnswer(status="accepted", dialog_id=dialog_id, reason="update kept until the call arrives")


def _update_applied(dialog_id: str, fields: dict[str, Any]) -> WebhookAnswer:
    if "recording_url" in fields:
        request_keep_recording(dialog_id)  # KeepRecording is idempotent: a URL already kept is not fetched again
    return WebhookAnswer(status="accepted", dialog_id=dialog_id, reason="update applied")


def new_event_id() -> str:
    return "e-" + uuid.uuid4().hex


def stored_request(request: WebhookRequest) -> StoredRequest:
    """What we keep of a request: everything but credentials (they never reach an item or a log)."""
    query = urlencode([(k, v) for k, v in parse_qsl(request.raw_query, keep_blank_values=True) if k != TOKEN_QUERY])
    url = request.url.split("?", 1)[0] + (f"?{query}" if query else "")
    headers = {k: v for k, v in request.headers.items() if k not in CREDENTIAL_HEADERS}
    return StoredRequest(method=request.method, url=url, headers=headers, raw_query=query,
                         body_b64=base64.b64encode(request.body).decode())


def rejected_event(request: WebhookRequest, exc: WebhookRejectedError, expires: int | None = None) -> RawEvent:
    return RawEvent(event_id=new_event_id(), channel_id=request.channel_id, received_at=utc_now(),
                    kind=RawEventKind.REJECTED, reason=exc.reason, message=exc.message,
                    status_code=exc.status_code, request=stored_request(request), expires_at=expires)


def expiry(channel: Channel, settings: IngestSettings) -> int | None:
    """When a raw event received now expires (the channel's retention_days, else the stack's default)."""
    return expires_at(utc_now(), retention_days(channel.retention_days, settings.default_retention_days))
