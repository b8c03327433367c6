"""Ingest's SnapStart as CloudFormation deploys it (template.yaml through SAM's transform): snapshots are taken of
published versions only, so the API must invoke the alias SAM publishes, and API Gateway must be allowed to."""

from __future__ import annotations

import json
from typing import Any

from tests.support.transformed import of_type, transformed_template

ALIAS = {"Ref": "IngestFunctionAliaslive"}


def _ingest_integrations(template: dict[str, Any]) -> list[Any]:
    (api,) = of_type(template, "AWS::ApiGatewayV2::Api").values()
    return [op["x-amazon-apigateway-integration"]["uri"] for ops in api["Properties"]["Body"]["paths"].values()
            for op in ops.values() if "IngestFunction" in json.dumps(op["x-amazon-apigateway-integration"]["uri"])]


def test_ingest_snapshots_its_published_versions_under_the_live_alias() -> None:
    template = transformed_template()
    ingest = template["Resources"]["IngestFunction"]["Properties"]
    assert ingest["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    alias = template["Resources"]["IngestFunctionAliaslive"]
    assert alias["Type"] == "AWS::Lambda::Alias" and alias["Properties"]["Name"] == "live"
    version = alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
    assert template["Resources"][version]["Type"] == "AWS::Lambda::Version"


def test_the_webhook_api_invokes_the_alias_never_latest() -> None:
    template = transformed_template()
    uris = _ingest_integrations(template)
    assert len(uris) == 4  # POST, GET, POST with a suffix, the OpenAPI document
    assert all("${IngestFunctionAliaslive}" in uri["Fn::Sub"] for uri in uris)
    permissions = [res["Properties"] for res in of_type(template, "AWS::Lambda::Permission").values()
                   if res["Properties"]["Principal"] == "apigateway.amazonaws.com"
                   and "IngestFunction" in json.dumps(res["Properties"]["FunctionName"])]
    assert len(permissions) == 4
    assert all(permission["FunctionName"] == ALIAS for permission in permissions)
