"""Webhook API: HTTP <-> domain only. Answers per docs/webhook-api.md; every decision is in callhook.services.ingest.

The composition root of the webhook path: the adapters (callhook/ingest_wiring.py) are built once per sandbox (per
settings, which tests may switch) and handed to the service.

With SnapStart (template.yaml) a cold start resumes a snapshot taken after init: the before-snapshot hook builds
the adapters and the clients of an accepted webhook into it, and the after-restore hook renews what every sandbox
restored from that one snapshot would otherwise share (README, "SnapStart (Ingest)")."""

from __future__ import annotations

import base64
import functools
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.aws import WEBHOOK_ANSWER_LIMITS, client, renew_clients, use_limits
from callhook.errors import ChannelMisconfiguredError, DependencyUnavailableError, WebhookRejectedError
from callhook.ingest_wiring import ingest_ports
from callhook.models.api import SPOOLED_REASON, HandshakeAnswer, WebhookAnswer, WebhookError, WebhookRequest
from callhook.models.channel import CHANNEL_ID_PATTERN
from callhook.observability import logger, metrics, tracer
from callhook.services.ingest import IngestPorts, ingest_webhook
from callhook.settings import IngestSettings, load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import OpenAPI

try:  # Lambda's Python runtimes ship the package (the layer too); the hooks only ever run there and locally
    from snapshot_restore_py import register_after_restore, register_before_snapshot  # type: ignore[import-untyped]
except ImportError:  # an interpreter without it: no runtime will call the hooks, so registering is a no-op

    def register_before_snapshot(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        return func

    register_after_restore = register_before_snapshot

app = APIGatewayHttpResolver()

# OpenAPI (docs/openapi.json and GET /openapi.json): Powertools derives each operation from its route below (path,
# channel_id, summary, the answers' schemas from WebhookAnswer and WebhookError). What a route's signature cannot
# say is declared here: the handler reads the raw body (signatures are computed over its bytes), so the bodies it
# accepts are stated rather than parsed by Powertools, and a GET carries the call's fields under any names.
# Everything here is plain data: Powertools' OpenAPI models (pydantic models of the whole OpenAPI 3.1 schema, a
# fifth of a cold start) load only when the document is asked for (openapi_document), never for a webhook. So does
# the channel_id's pattern: an `Annotated[str, Path(...)]` route parameter would import Powertools' OpenAPI params,
# whose compat module builds a pydantic model at import (~5 ms of CPU per cold start, paired runs); the document
# adds it instead.
WEBHOOK_PATH = "/webhooks/{channel_id}"
CHANNEL_ID = {"description": "The channel's id (its item's key)", "pattern": CHANNEL_ID_PATTERN}
TOKEN_SCHEMES: dict[str, dict[str, str]] = {
    "webhookToken": {"type": "apiKey", "in": "query", "name": "token", "description": "The channel's webhook_token"},
    "webhookTokenHeader": {"type": "apiKey", "in": "header", "name": "X-Webhook-Token",
                           "description": "The channel's webhook_token, as a header"},
}
TOKEN: list[dict[str, list[str]]] = [{name: []} for name in TOKEN_SCHEMES]
AUTH_NOTE = ("Authentication: the channel's token as `?token=` or `X-Webhook-Token`, compared in constant time; a "
             "channel with a signature scheme (Twilio, Standard Webhooks, HMAC, a provider preset's) is checked over "
             "the raw body instead. A provider's URL check (handshake) is answered before authentication and stores "
             "nothing.")
CALL_BODY = {
    "required": False,
    "description": "The provider's call event, mapped by the channel's `advanced_config.field_mapping`. JSON: an "
                   "object, in its charset or UTF-8/16/32. Form: any charset; bracket keys nest (`a[b][c]=x`), "
                   "numeric indices make lists, a repeated key keeps its last value. An empty body is `{}`.",
    "content": {
        content_types.APPLICATION_JSON: {"schema": {"type": "object"}},
        "application/x-www-form-urlencoded": {"schema": {"type": "object",
                                                         "additionalProperties": {"type": "string"}}},
    },
}
CALL_QUERY = {
    "name": "call", "in": "query", "required": False, "style": "form", "explode": True,
    "description": "The call's fields as query parameters, under any names (bracket keys nest as in a form body)",
    "schema": {"type": "object", "additionalProperties": {"type": "string"}},
}


def _error_answer(description: str) -> dict[str, Any]:
    return {"description": description, "content": {content_types.APPLICATION_JSON: {"model": WebhookError}}}


ANSWERS: dict[int, Any] = {
    200: {"description": "`accepted`, `duplicate` (the same call again: the stored dialog's id) or `ignored` (the "
                         "channel's `accept_when` is false). A channel's fixed success body (`advanced_config."
                         "answer`) adds its keys; a handshake is answered as the channel's preset says (text/plain).",
          "content": {content_types.APPLICATION_JSON: {"model": WebhookAnswer},
                      content_types.TEXT_PLAIN: {"schema": {"type": "string"}}}},
    202: {"description": "Kept, not yet a dialog: `held` (the channel item is invalid; the request becomes a dialog "
                         "once it is fixed, no resend needed) or `accepted` with reason `spooled` (the dialog store "
                         "failed; the request is kept elsewhere and becomes its dialog shortly). `event_id` names it.",
          "content": {content_types.APPLICATION_JSON: {"model": WebhookAnswer}}},
    400: _error_answer("Unreadable body: invalid JSON, not an object, nested too deep, or not valid in its charset"),
    401: _error_answer("Missing or wrong credentials"),
    403: _error_answer("The channel is not active (the payload is kept as a raw event)"),
    404: _error_answer("Unknown channel"),
    413: _error_answer("Body over the limit"),
    415: _error_answer("Content type neither JSON nor a form"),
    422: _error_answer("No call_id after mapping (the payload is kept as a raw event)"),
    500: _error_answer("A bug of ours; retry later"),
    503: _error_answer("Nothing was kept: no store could take the request, or the channel's configuration is invalid "
                       "to the point that it cannot authenticate requests; retry"),
}


@functools.cache
def openapi_document() -> str:
    """The webhook API's OpenAPI 3.1 document, generated from the routes of this module.

    The GET's free-form query is added to the generated model: Powertools builds parameters from a route's signature,
    which has no way to say "any names". So are the channel id's description and pattern (see CHANNEL_ID).
    """
    # Imported here, not at the top: see the note above WEBHOOK_PATH (cold start).
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, Parameter, Schema

    document: OpenAPI = app.get_openapi_schema(
        title="callhook webhook API", version="1",
        description="Telephony providers' call webhooks: one dialog per call, whatever the transport.",
        security_schemes={name: APIKey.model_validate(scheme) for name, scheme in TOKEN_SCHEMES.items()},
    )
    for operation in (document.paths[WEBHOOK_PATH].get, document.paths[WEBHOOK_PATH].post):  # type: ignore[index]
        for parameter in operation.parameters or []:  # type: ignore[union-attr]
            if isinstance(parameter, Parameter) and parameter.name == "channel_id" and isinstance(parameter.schema_,
                                                                                                   Schema):
                parameter.description = parameter.schema_.description = CHANNEL_ID["description"]
                parameter.schema_.pattern = CHANNEL_ID["pattern"]
    document.paths[WEBHOOK_PATH].get.parameters.append(  # type: ignore[index,union-attr]
        Parameter.model_validate(CALL_QUERY))
    return document.model_dump_json(by_alias=True, exclude_none=True, indent=2)


def _json(status: int, body: str) -> Response[str]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _error(status: int, answer: WebhookError) -> Response[str]:
    return _json(status, answer.model_dump_json())


def webhook_request(channel_id: str) -> WebhookRequest:
    """The payload-2.0 event as the service's request model (raw body bytes, lower-cased headers)."""
    event = app.current_event
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    raw_query = event.get("rawQueryString") or ""
    url = request_url(headers, event.request_context.domain_name, event.request_context.stage,
                      event.get("rawPath") or event.path, raw_query)
    return WebhookRequest(
        channel_id=channel_id, method=event.request_context.http.method.upper(), url=url, headers=headers,
        raw_query=raw_query, query=dict(event.query_string_parameters or {}), body=body,
        source_ip=event.request_context.http.source_ip,
    )


def request_url(headers: dict[str, str], domain_name: str | None, stage: str | None, raw_path: str,
                raw_query: str) -> str:
    """The URL the provider called, rebuilt from the event: Twilio and Plivo sign it, so it must be exact.

    The host is the domain API Gateway received the request on (its `domainName`), else the Host header; never a
    client-supplied X-Forwarded-Host, which would let a signature made for another host (another deployment sharing
    the auth token) pass here. Scheme and port come from X-Forwarded-Proto/-Port, which API Gateway sets itself. On
    the execute-api domain a named stage is part of the URL and rawPath keeps it; on a custom domain the provider's
    URL has no stage segment although rawPath still has one, so it is removed. A proxy in front of API Gateway, or
    an API mapping key (which never reaches the event): such setups set the channel's public_url.
    """
    scheme = _first(headers.get("x-forwarded-proto")) or "https"
    host = domain_name or headers.get("host") or "localhost"
    port = _first(headers.get("x-forwarded-port"))
    if port and ":" not in host.rsplit("]", 1)[-1] and port != {"https": "443", "http": "80"}.get(scheme.lower()):
        host = f"{host}:{port}"
    path = raw_path
    on_execute_api = bool(domain_name) and ".execute-api." in (domain_name or "")
    if stage and stage != "$default" and not on_execute_api and path.startswith(f"/{stage}/"):
        path = path.removeprefix(f"/{stage}")
    return f"{scheme}://{host}{path}" + (f"?{raw_query}" if raw_query else "")


def _first(value: str | None) -> str | None:
    """The first value of a comma-separated X-Forwarded-* header (the client-facing hop)."""
    return value.split(",", 1)[0].strip() if value else None


@functools.cache
def adapters(settings: IngestSettings) -> IngestPorts:
    use_limits(WEBHOOK_ANSWER_LIMITS)  # the provider is waiting for the answer: see callhook/aws.py
    return ingest_ports(settings, limits=WEBHOOK_ANSWER_LIMITS)


# The clients every accepted webhook calls: the channel read, the dialog's PutItem (DynamoDB), StartExecution.
SNAPSHOT_CLIENTS = ("dynamodb", "stepfunctions")


@register_before_snapshot
def prepare_snapshot() -> None:
    """Into the snapshot, what the first webhook of a sandbox would otherwise build: the adapters, with their
    limits, and the clients of an accepted webhook (a client's creation loads its service model and endpoint rules,
    a large part of a cold start). No call is made: nothing of a connection or a request goes into the snapshot."""
    adapters(load_settings(IngestSettings))
    for service in SNAPSHOT_CLIENTS:
        client(service)


@register_after_restore
def renew_after_restore() -> None:
    """What each sandbox restored from the one snapshot must have of its own. `random`'s state is the snapshot's
    in every one of them (botocore's retry jitter draws from it: restored sandboxes throttled together would retry
    in step); the clients' pooled connections and credentials belong to the snapshotted sandbox. uuid4 and the
    secrets module read the kernel's generator, which Lambda reseeds on restore."""
    random.seed()
    renew_clients()


def _receive(channel_id: str) -> Response[str]:
    settings = load_settings(IngestSettings)
    answer = ingest_webhook(webhook_request(channel_id), adapters(settings), settings)
    if isinstance(answer, HandshakeAnswer):
        metrics.add_metric(name="WebhookHandshake", unit=MetricUnit.Count, value=1)
        return Response(status_code=200, content_type=answer.content_type, body=answer.body,
                        headers={**answer.headers, "X-Content-Type-Options": "nosniff"})
    metrics.add_metric(name=f"Webhook{answer.status.title()}", unit=MetricUnit.Count, value=1)
    if answer.reason == SPOOLED_REASON:
        metrics.add_metric(name="WebhookSpooled", unit=MetricUnit.Count, value=1)
    return _json(answer.status_code, answer.body_json())


@app.post("/webhooks/<channel_id>", summary="Receive a call webhook", tags=["webhooks"], security=TOKEN,
          responses=ANSWERS, openapi_extensions={"requestBody": CALL_BODY},
          description="A call event as JSON or a form. A provider that appends the event's kind to the URL "
                      "(`/webhooks/{channel_id}/events/summary`) is served the same way. " + AUTH_NOTE)
def receive_post(channel_id: str) -> Response[str]:
    return _receive(channel_id)


@app.post("/webhooks/<channel_id>/.+", include_in_schema=False)  # OpenAPI paths cannot say "any suffix"
def receive_post_with_suffix(channel_id: str) -> Response[str]:
    """Providers that append the event's kind to the URL (Mango Office posts to URL/events/summary)."""
    return _receive(channel_id)


@app.get("/webhooks/<channel_id>", summary="Receive a call webhook sent as GET", tags=["webhooks"], security=TOKEN,
         responses=ANSWERS, description="The call's fields as query parameters (minus `token`). " + AUTH_NOTE)
def receive_get(channel_id: str) -> Response[str]:
    return _receive(channel_id)


@app.get("/openapi.json", include_in_schema=False)
def openapi_json() -> Response[str]:
    """This API's OpenAPI document, published with the stack (the same text as docs/openapi.json)."""
    return _json(200, openapi_document())


MISCONFIGURED_ANSWER = ("this channel's configuration cannot be used right now; nothing was stored. Its admin sees "
                        "why with `callhook channel check` and in the ingest function's log")


@app.exception_handler(WebhookRejectedError)
def rejected(exc: WebhookRejectedError) -> Response[str]:
    metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="reason", value=exc.reason)
    # The caller may be anyone: a broken configuration's details (parameter names, field paths) stay in our log.
    if isinstance(exc, ChannelMisconfiguredError):
        logger.error("webhook refused: channel misconfigured", reason=exc.reason, detail=exc.message)
        return _error(exc.status_code, WebhookError(status="rejected", reason=exc.reason, message=MISCONFIGURED_ANSWER))
    logger.info("webhook rejected", reason=exc.reason, detail=exc.message, status_code=exc.status_code)
    message = exc.message
    return _error(exc.status_code, WebhookError(status="rejected", reason=exc.reason, message=message))


@app.exception_handler(DependencyUnavailableError)
def unavailable(exc: DependencyUnavailableError) -> Response[str]:
    """Ours failed: 503 so that the provider retries; a retry completes the job without duplicating it."""
    logger.warning("dependency unavailable", detail=str(exc))
    metrics.add_metric(name="WebhookServerError", unit=MetricUnit.Count, value=1)
    return _error(503, WebhookError(status="error", reason="temporarily_unavailable",
                                    message=f"callhook could not store the call right now ({exc}); retry later"))


@app.exception_handler(Exception)
def internal_error(exc: Exception) -> Response[str]:
    logger.exception("unexpected error")
    metrics.add_metric(name="WebhookServerError", unit=MetricUnit.Count, value=1)
    return _error(500, WebhookError(status="error", reason="internal_error", message="callhook failed; retry later"))


@app.not_found
def not_found(_: Exception) -> Response[str]:
    return _error(404, WebhookError(status="rejected", reason="not_found", message="POST /webhooks/{channel_id}"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
