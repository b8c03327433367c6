"""Webhook API: HTTP <-> domain only. Answers per CONTRACT §2; every decision is in callhook.services.ingest."""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from callhook.errors import DependencyUnavailableError, WebhookRejectedError
from callhook.models.api import HandshakeAnswer, WebhookRequest
from callhook.observability import logger, metrics, tracer
from callhook.services.ingest import ingest_webhook
from callhook.settings import IngestSettings, load_settings

app = APIGatewayHttpResolver()


def _json(status: int, body: str) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


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

    Scheme, host and port come from X-Forwarded-Proto/-Host/-Port (a proxy in front of API Gateway, or API Gateway
    itself for proto and port), else the Host header. On the execute-api domain a named stage is part of the URL
    and rawPath keeps it; on a custom domain the provider's URL has no stage segment although rawPath still has
    one, so it is removed. An API mapping key never reaches the event: such setups set the channel's public_url.
    """
    scheme = _first(headers.get("x-forwarded-proto")) or "https"
    host = _first(headers.get("x-forwarded-host")) or headers.get("host") or domain_name or "localhost"
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


def _receive(channel_id: str) -> Response:
    answer = ingest_webhook(webhook_request(channel_id), load_settings(IngestSettings))
    if isinstance(answer, HandshakeAnswer):
        metrics.add_metric(name="WebhookHandshake", unit=MetricUnit.Count, value=1)
        return Response(status_code=200, content_type=answer.content_type, body=answer.body,
                        headers={**answer.headers, "X-Content-Type-Options": "nosniff"})
    metrics.add_metric(name=f"Webhook{answer.status.title()}", unit=MetricUnit.Count, value=1)
    return _json(200, answer.body_json())


@app.post("/webhooks/<channel_id>")
def receive_post(channel_id: str) -> Response:
    return _receive(channel_id)


@app.post("/webhooks/<channel_id>/.+")
def receive_post_with_suffix(channel_id: str) -> Response:
    """Providers that append the event's kind to the URL (Mango Office posts to URL/events/summary)."""
    return _receive(channel_id)


@app.get("/webhooks/<channel_id>")
def receive_get(channel_id: str) -> Response:
    return _receive(channel_id)


@app.exception_handler(WebhookRejectedError)
def rejected(exc: WebhookRejectedError) -> Response:
    metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="reason", value=exc.reason)
    logger.info("webhook rejected", reason=exc.reason, detail=exc.message, status_code=exc.status_code)
    return _json(exc.status_code, exc.answer_json())


@app.exception_handler(DependencyUnavailableError)
def unavailable(exc: DependencyUnavailableError) -> Response:
    """Ours failed: 503 so that the provider retries; a retry completes the job without duplicating it."""
    logger.warning("dependency unavailable", detail=str(exc))
    metrics.add_metric(name="WebhookServerError", unit=MetricUnit.Count, value=1)
    return _json(503, json.dumps({"status": "error", "reason": "temporarily_unavailable",
                                  "message": f"callhook could not store the call right now ({exc}); retry later"}))


@app.exception_handler(Exception)
def internal_error(exc: Exception) -> Response:
    logger.exception("unexpected error")
    metrics.add_metric(name="WebhookServerError", unit=MetricUnit.Count, value=1)
    return _json(500, '{"status": "error", "reason": "internal_error", "message": "callhook failed; retry later"}')


@app.not_found
def not_found(_: Exception) -> Response:
    return _json(404, '{"status": "rejected", "reason": "not_found", "message": "POST /webhooks/{channel_id}"}')


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
