"""The webhook API's OpenAPI document: generated from the ingest function's routes and models, committed, served."""

from __future__ import annotations

import json
from pathlib import Path

import schemathesis

from callhook.models.api import WebhookError
from functions.ingest import app
from tests.unit.conftest import FakeContext, load_event

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
CONTRACT_STATUSES = {"200", "400", "401", "403", "404", "413", "415", "422", "503"}


def test_openapi_document_in_docs_is_the_one_the_code_generates() -> None:
    # Given the committed document and the one generated from the handler's routes now
    committed = DOCUMENT.read_text(encoding="utf-8")
    # Then they are the same text: `make openapi` regenerates docs/openapi.json after a change to the API
    assert committed == app.openapi_document() + "\n", "docs/openapi.json is stale: run `make openapi`"


def test_openapi_document_describes_both_operations_with_every_contract_status() -> None:
    # Given
    document = json.loads(app.openapi_document())
    operations = document["paths"]["/webhooks/{channel_id}"]
    # Then POST and GET answer every status of docs/webhook-api.md, with the models the handler answers with
    assert sorted(operations) == ["get", "post"]
    schemas = document["components"]["schemas"]
    assert schemas["WebhookAnswer"]["required"] == ["status"]
    assert schemas["WebhookError"]["required"] == ["status", "reason", "message"]
    for operation in operations.values():
        assert set(operation["responses"]) >= CONTRACT_STATUSES
        assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/WebhookAnswer"}
        assert operation["responses"]["422"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/WebhookError"}
        assert operation["security"] == [{"webhookToken": []}, {"webhookTokenHeader": []}]
    bodies = set(operations["post"]["requestBody"]["content"])
    assert bodies == {"application/json", "application/x-www-form-urlencoded"}
    get_parameters = {(p["in"], p["name"]) for p in operations["get"]["parameters"]}
    assert get_parameters == {("path", "channel_id"), ("query", "call")}
    schemes = document["components"]["securitySchemes"]
    assert {name: (s["in"], s["name"]) for name, s in schemes.items()} == {
        "webhookToken": ("query", "token"), "webhookTokenHeader": ("header", "X-Webhook-Token")}


def test_openapi_document_is_valid_for_schemathesis() -> None:
    # Given the document as a client tool loads it
    schema = schemathesis.openapi.from_dict(json.loads(app.openapi_document()))
    # Then each operation resolves (references, parameters, bodies)
    labels = sorted(result.ok().label for result in schema.get_all_operations())
    assert labels == ["GET /webhooks/{channel_id}", "POST /webhooks/{channel_id}"]


def test_ingest_handler_serves_the_openapi_document(lambda_context: FakeContext) -> None:
    # Given a GET /openapi.json event (no AWS call is needed to answer it)
    event = load_event("ingest/get_call")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/openapi.json"
    event["rawQueryString"], event["queryStringParameters"] = "", None
    # When
    resp = app.handler(event, lambda_context)
    # Then
    assert (resp["statusCode"], resp["headers"]["Content-Type"]) == (200, "application/json")
    assert resp["body"] == app.openapi_document()


def test_ingest_handler_answers_errors_with_the_documented_model(lambda_context: FakeContext) -> None:
    # Given a path the API does not route
    event = load_event("ingest/json_call")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/elsewhere"
    # When
    resp = app.handler(event, lambda_context)
    # Then the answer is a WebhookError, as the document says of every error status
    error = WebhookError.model_validate_json(resp["body"])
    assert (resp["statusCode"], error.status, error.reason) == (404, "rejected", "not_found")
