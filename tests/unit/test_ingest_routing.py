"""Ingest's own routing (functions/ingest/app.py: ROUTES, resolve) answers as Powertools' APIGatewayHttpResolver did.

Ingest no longer imports `aws_lambda_powertools.event_handler` on a webhook (its package imports every resolver and
every event data class: tests/unit/test_cold_start_imports.py). These tests hold the replacement to Powertools'
behaviour: the same route for every method, path and stage (a differential test against Powertools' resolver with the
same path rules), the same response payload, and each exception answered by the handler of its class.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler import Response as PowertoolsResponse
from hypothesis import given, settings
from hypothesis import strategies as st

from callhook.errors import ChannelMisconfiguredError, DependencyUnavailableError, UnauthorizedError
from functions.ingest import app
from tests.unit.conftest import load_event

ROUTE_NAMES = {route: route.__name__ for _, _, route in app.ROUTES}


def _powertools_router() -> APIGatewayHttpResolver:
    """Powertools' resolver with ingest's path rules, each route answering its own name and arguments."""
    router = APIGatewayHttpResolver()
    for method, rule in (("POST", "/webhooks/<channel_id>"), ("POST", "/webhooks/<channel_id>/.+"),
                         ("GET", "/webhooks/<channel_id>"), ("GET", "/openapi.json")):
        name = {"/webhooks/<channel_id>/.+": "receive_post_with_suffix", "/openapi.json": "openapi_json"}.get(
            rule, "receive_post" if method == "POST" else "receive_get")

        def route(_name: str = name, **kwargs: str) -> PowertoolsResponse[str]:
            return PowertoolsResponse(status_code=200, body=json.dumps([_name, kwargs]))

        router.route(rule, method)(route)
    router.not_found(lambda _: PowertoolsResponse(status_code=404, body="null"))
    return router


POWERTOOLS = _powertools_router()


def _event(method: str, raw_path: str, stage: str = "$default") -> dict[str, Any]:
    event = load_event("ingest/json_call")
    event["rawPath"] = event["requestContext"]["http"]["path"] = raw_path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["stage"] = stage
    return event


def _ours(event: dict[str, Any]) -> Any:
    method = event["requestContext"]["http"]["method"].upper()
    path = app._path(event)
    for route_method, rule, route in app.ROUTES:
        if method == route_method and (match := rule.match(path)):
            return [ROUTE_NAMES[route], match.groupdict()]
    return None


def _powertools(event: dict[str, Any]) -> Any:
    return json.loads(POWERTOOLS.resolve(copy.deepcopy(event), None)["body"])


SEGMENT = st.text(alphabet=st.sampled_from(list("aZ09-._~()'!*:@,;=+&$%<> []{}|^/?#é\n")), min_size=0, max_size=12)


@settings(max_examples=400, deadline=None)
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "post", "get"]),
       prefix=st.sampled_from(["/webhooks/", "/webhooks", "/openapi.json", "/dev/webhooks/", "/", ""]),
       rest=SEGMENT, stage=st.sampled_from(["$default", "dev", "v1"]))
def test_every_request_takes_the_route_powertools_gave_it(method: str, prefix: str, rest: str, stage: str) -> None:
    # Given any method, path and stage
    event = _event(method, prefix + rest if prefix != "/openapi.json" else prefix, stage)
    # When both route it, Then they pick the same route with the same channel_id, or neither does
    assert _ours(event) == _powertools(event)


@pytest.mark.parametrize(("method", "raw_path", "stage", "expected"), [
    ("POST", "/webhooks/main", "$default", ["receive_post", {"channel_id": "main"}]),
    ("POST", "/webhooks/main/events/summary", "$default", ["receive_post_with_suffix", {"channel_id": "main"}]),
    ("GET", "/webhooks/main", "$default", ["receive_get", {"channel_id": "main"}]),
    ("GET", "/openapi.json", "$default", ["openapi_json", {}]),
    ("POST", "/prod/webhooks/a.b-c_d", "prod", ["receive_post", {"channel_id": "a.b-c_d"}]),
    ("POST", "/webhooks/main/", "$default", None),
    ("PUT", "/webhooks/main", "$default", None),
    ("POST", "/webhooks/main", "prod", None),
])
def test_known_routes(method: str, raw_path: str, stage: str, expected: Any) -> None:
    event = _event(method, raw_path, stage)
    assert _ours(event) == expected == _powertools(event)


def test_a_route_answer_is_the_payload_powertools_built() -> None:
    # Given the same answer from our Response and Powertools'
    headers = {"X-Content-Type-Options": "nosniff"}
    ours = app.Response(200, "ok", "text/plain", headers).payload()
    powertools = APIGatewayHttpResolver()
    powertools.get("/x")(lambda: PowertoolsResponse(status_code=200, content_type="text/plain", body="ok",
                                                     headers=dict(headers)))
    # Then the payloads are equal (headers, Content-Type, cookies, base64 flag)
    assert ours == powertools.resolve(_event("GET", "/x"), None)
    assert app.Response(404, "{}").payload()["headers"] == {"Content-Type": "application/json"}


@pytest.mark.parametrize(("raised", "status", "reason"), [
    (UnauthorizedError("wrong token"), 401, "unauthorized"),
    (ChannelMisconfiguredError("bad secret name"), 503, None),
    (DependencyUnavailableError("DynamoDB throttled"), 503, "temporarily_unavailable"),
    (KeyError("bug"), 500, "internal_error"),
])
def test_a_route_exception_is_answered_by_the_handler_of_its_class(monkeypatch: pytest.MonkeyPatch,
                                                                   raised: Exception, status: int,
                                                                   reason: str | None) -> None:
    # Given a webhook whose service raises
    def fail(*_: Any) -> Any:
        raise raised

    monkeypatch.setattr(app, "ingest_webhook", fail)
    monkeypatch.setattr(app, "adapters", lambda _: None)
    monkeypatch.setattr(app, "load_settings", lambda _: None)
    # When it is resolved
    answer = app.resolve(_event("POST", "/webhooks/main"))
    # Then the handler of the exception's class answers, as a JSON WebhookError
    body = json.loads(answer["body"])
    assert answer["statusCode"] == status and answer["headers"] == {"Content-Type": "application/json"}
    assert body["reason"] == (reason or raised.reason)  # type: ignore[attr-defined]
    assert app._Current.event == {}  # the event is not kept after its answer


def test_no_route_is_a_json_404() -> None:
    answer = app.resolve(_event("DELETE", "/webhooks/main"))
    assert answer == {"statusCode": 404, "isBase64Encoded": False, "cookies": [],
                      "headers": {"Content-Type": "application/json"},
                      "body": '{"status":"rejected","reason":"not_found","message":"POST /webhooks/{channel_id}"}'}
