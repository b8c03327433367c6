"""The rule admin-written configuration is checked against (callhook.models.grants) is what template.yaml grants,
read from the template as CloudFormation deploys it: a change to either side alone fails here."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from callhook.models.action import parse_action
from callhook.models.grants import ACTION_FUNCTION_PREFIX, SECRET_PATH, check_action_function, check_granted_secret
from tests.support.transformed import transformed_template

TEMPLATE = transformed_template()
SECRET_READERS = ["IngestFunctionRole", "EnrichFunctionRole", "KeepRecordingFunctionRole"]


def _grants(role: str, action: str) -> list[str]:
    """The resources (Fn::Sub texts) the role's Allow statements grant `action` on."""
    found: list[str] = []
    for policy in TEMPLATE["Resources"][role]["Properties"]["Policies"]:
        for stmt in policy["PolicyDocument"]["Statement"]:
            actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
            if stmt["Effect"] == "Allow" and action in actions:
                resources = stmt["Resource"] if isinstance(stmt["Resource"], list) else [stmt["Resource"]]
                found += [_text(r) for r in resources]
    return found


def _text(resource: Any) -> str:
    sub = resource["Fn::Sub"] if isinstance(resource, dict) else resource
    text = sub[0] if isinstance(sub, list) else sub
    if isinstance(sub, list):  # SAM's policy templates: ${parameterName} filled from the second element
        for name, value in sub[1].items():
            text = text.replace(f"${{{name}}}", value if isinstance(value, str) else f"<{value}>")
    return str(text)


def test_enrich_may_invoke_exactly_the_functions_named_with_the_action_prefix() -> None:
    invokable = [r for r in _grants("EnrichFunctionRole", "lambda:InvokeFunction") if ":function:" in r]
    action_functions = [r for r in invokable if "KeepRecording" not in r]
    assert [r.rsplit(":function:", 1)[1] for r in action_functions] == [f"{ACTION_FUNCTION_PREFIX}*"]


@pytest.mark.parametrize("role", SECRET_READERS)
def test_the_functions_that_read_secrets_may_read_exactly_the_granted_path(role: str) -> None:
    parameters = _grants(role, "ssm:GetParameter")
    assert parameters and all(r.endswith(f":parameter/{SECRET_PATH}*") for r in parameters), parameters


@pytest.mark.parametrize("role", ["EnrichFunctionRole", "KeepRecordingFunctionRole"])
def test_the_functions_that_read_secrets_manager_may_read_exactly_the_granted_names(role: str) -> None:
    secrets = _grants(role, "secretsmanager:GetSecretValue")
    assert secrets and all(r.endswith(f":secret:{SECRET_PATH}*") for r in secrets), secrets


@pytest.mark.parametrize("function", [f"{ACTION_FUNCTION_PREFIX}crm", f"{ACTION_FUNCTION_PREFIX}crm:live",
                                      f"123456789012:function:{ACTION_FUNCTION_PREFIX}crm",
                                      f"arn:aws:lambda:us-east-1:123456789012:function:{ACTION_FUNCTION_PREFIX}crm:1"])
def test_every_form_of_a_granted_function_passes(function: str) -> None:
    assert check_action_function(function) == function


@pytest.mark.parametrize("function", ["crm", "callhook-AssignFunction", "arn:aws:lambda:us-east-1:1:function:crm",
                                      f"crm:{ACTION_FUNCTION_PREFIX}x"])
def test_a_function_outside_the_prefix_is_refused_naming_the_rule(function: str) -> None:
    with pytest.raises(ValidationError, match=f"named {ACTION_FUNCTION_PREFIX}\\* only"):
        parse_action({"action_id": "a", "type": "lambda", "function_name": function})


@pytest.mark.parametrize(("reference", "ok"), [
    ("ssm:/callhook/pbx/key", True), ("ssm:arn:aws:ssm:us-east-1:1:parameter/callhook/k", True),
    ("secretsmanager:callhook/pbx", True), ("secretsmanager:arn:aws:secretsmanager:us-east-1:1:secret:callhook/k",
                                            True),
    ("ssm:/other/key", False), ("ssm:callhook/key", False), ("secretsmanager:/callhook/pbx", False),
    ("secretsmanager:pbx", False)])
def test_secret_references_are_checked_against_the_granted_path(reference: str, ok: bool) -> None:
    if ok:
        assert check_granted_secret(reference) == reference
    else:
        with pytest.raises(ValueError, match="outside what the stack may read"):
            check_granted_secret(reference)
