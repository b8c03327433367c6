"""Least privilege, read from the template as CloudFormation deploys it (samtranslator's output):

1. each function's role grants exactly the actions pinned here, on exactly these resources (the local stack's IAM
   check, callhook_local/iam.py, proves on every integration test that nothing the code calls is missing);
2. each granted action is one the function's code can call: the boto3 method (or the SDK helper that makes the call)
   appears in the modules the function imports, or the action is used on the function's behalf (listed below
   with why), so a grant the code does not use fails here;
3. no function may Scan the dialogs or raw events tables, or batch-read, batch-write or delete any item.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.transformed import of_type, transformed_template

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers/common/python"
TEMPLATE = transformed_template()
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = of_type(TEMPLATE, "AWS::Lambda::Function")

D, E, C, A, OP, T, S = "DialogsTable", "EventsTable", "ChannelsTable", "ActionsTable", "OperatorsTable", \
    "TopicsTable", "SettingsTable"
B = "RecordingsBucket"
KEEP = "lambda:InvokeFunction KeepRecordingFunction"
START = "states:StartExecution DialogWorkflow"
SECRETS = {"ssm:GetParameter parameter/callhook/*",
           "kms:Decrypt key/* via ssm+secretsmanager"}
TRANSCRIBE = {"transcribe:StartTranscriptionJob *", "transcribe:GetTranscriptionJob transcription-job/<stack>-*",
              f"s3:GetObject {B}/recordings/*", f"s3:PutObject {B}/transcripts/*", f"s3:GetObject {B}/transcripts/*",
              "states:SendTaskSuccess *", "states:SendTaskHeartbeat *"}
INGEST_PATH = {f"dynamodb:GetItem {C}", f"dynamodb:GetItem {D}", f"dynamodb:PutItem {D}", f"dynamodb:UpdateItem {D}",
               f"dynamodb:PutItem {E}", START, KEEP,
               f"s3:PutObject {B}/payloads/*", f"s3:DeleteObject {B}/payloads/*"}  # bodies too large for an item
DIALOG_STEP = {f"dynamodb:GetItem {D}", f"dynamodb:UpdateItem {D}"}

# role -> every (action, resource) its inline policies grant, resources by logical id (or the ARN's tail)
EXPECTED: dict[str, set[str]] = {
    "IngestFunctionRole": INGEST_PATH | SECRETS | {f"s3:PutObject {B}/spool/*"},
    "ReleaseHeldFunctionRole": INGEST_PATH | {f"dynamodb:UpdateItem {E}", f"dynamodb:Query {E}/index/by_held",
                                               "sqs:SendMessage HeldReleaseFailuresQueue"},
    "BeginFunctionRole": DIALOG_STEP | {f"dynamodb:UpdateItem {E}", f"dynamodb:Query {E}/index/by_dialog", KEEP},
    "EnrichFunctionRole": DIALOG_STEP | SECRETS | {
        f"dynamodb:GetItem {C}", f"dynamodb:GetItem {A}", KEEP, "secretsmanager:GetSecretValue secret:callhook/*",
        "lambda:InvokeFunction function:callhook-action-*", f"s3:GetObject {B}/payloads/*"},
    "AssignFunctionRole": DIALOG_STEP | {
        f"dynamodb:GetItem {S}", f"dynamodb:GetItem {OP}", f"dynamodb:Scan {OP}",
        f"dynamodb:Query {OP}/index/by_email", f"dynamodb:Query {OP}/index/by_ext_key"},
    "TopicFunctionRole": DIALOG_STEP | {f"dynamodb:GetItem {T}", f"dynamodb:Scan {T}"},
    "TranscribeFunctionRole": DIALOG_STEP | TRANSCRIBE | {f"dynamodb:GetItem {C}"},
    "TranscribeCallbackFunctionRole": DIALOG_STEP | {
        "transcribe:GetTranscriptionJob transcription-job/<stack>-*", f"s3:GetObject {B}/transcripts/*",
        "states:SendTaskSuccess *", "sqs:SendMessage TranscriptionEventsDeadLetterQueue"},
    "KeepRecordingFunctionRole": DIALOG_STEP | SECRETS | TRANSCRIBE | {
        f"dynamodb:GetItem {C}", "secretsmanager:GetSecretValue secret:callhook/*", f"s3:PutObject {B}/recordings/*",
        f"s3:AbortMultipartUpload {B}/recordings/*", "sqs:SendMessage RecordingCopyDeadLetterQueue"},
    "ExpireFunctionRole": {f"s3:DeleteObject {B}/recordings/*", f"s3:DeleteObject {B}/transcripts/*",
                           f"s3:DeleteObject {B}/payloads/*",
                           "transcribe:DeleteTranscriptionJob transcription-job/<stack>-*",
                           "sqs:SendMessage ExpiredDialogsFailuresQueue"},
    "WorkflowFailedFunctionRole": DIALOG_STEP,
    "ReconcileFunctionRole": INGEST_PATH | {
        f"dynamodb:Scan {C}", f"dynamodb:Query {D}/index/by_workflow_pending",
        f"dynamodb:Query {D}/index/by_recording_pending", f"dynamodb:UpdateItem {E}",
        f"dynamodb:Query {E}/index/by_held",
        f"s3:ListBucket {B} (s3:prefix spool/*)", f"s3:GetObject {B}/spool/*", f"s3:DeleteObject {B}/spool/*",
        f"s3:PutObject {B}/set-aside/*",
        "states:DescribeExecution execution:DialogWorkflow:*"},
    "NormalizeOperatorFunctionRole": {f"dynamodb:UpdateItem {OP}", "sqs:SendMessage OperatorNormalizeFailuresQueue"},
    "CheckConfigFunctionRole": {"sqs:SendMessage ConfigCheckFailuresQueue"},
}

# Actions used on the function's behalf, with no call of its own: (action, why, what the role must hold for it)
ON_ITS_BEHALF: dict[str, tuple[str, str | None]] = {
    "kms:Decrypt": ("SSM and Secrets Manager decrypt a secret under a customer-managed key with the caller's rights",
                    "get_parameter"),
    "sqs:SendMessage": ("Lambda sends a failed invoke or stream batch to the function's queue with its role", None),
}
TRANSCRIBE_READS = {"s3:GetObject": "recordings/", "s3:PutObject": "transcripts/"}  # no DataAccessRoleArn

# An action -> the calls of our code (boto3 methods, get_paginator names, SDK helpers) that make it
CALLS: dict[str, set[str]] = {
    "lambda:InvokeFunction": {"invoke"},
    "s3:PutObject": {"put_object", "upload_fileobj", "upload_file"},
    "s3:AbortMultipartUpload": {"upload_fileobj", "upload_file"},  # s3transfer aborts a failed multipart upload
    "s3:ListBucket": {"list_objects_v2"},
    "s3:DeleteObject": {"delete_object", "delete_objects"},
    "ssm:GetParameter": {"get_parameter", "SSMProvider"},
    "secretsmanager:GetSecretValue": {"get_secret", "SecretsProvider"},
}


def _tail(value: Any) -> str:
    """A resource as the expectations above name it."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if value == "*":
        return "*"
    sub = value["Fn::Sub"]
    text, names = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
    for name, ref in names.items():
        text = text.replace(f"${{{name}}}", _tail(ref))
    text = re.sub(r"\$\{(\w+)\.(Arn|Name)\}", r"\1", text).replace("${AWS::StackName}", "<stack>")
    text = re.sub(r"^arn:\$\{AWS::Partition\}:\w+:\$\{AWS::Region\}:\$\{AWS::AccountId\}:", "", text)
    return text.replace("stateMachine:", "").replace("function:KeepRecordingFunction*", "KeepRecordingFunction")


def _granted(role: str) -> set[str]:
    found: set[str] = set()
    for policy in RESOURCES[role]["Properties"].get("Policies", []):
        for stmt in policy["PolicyDocument"]["Statement"]:
            assert stmt["Effect"] == "Allow"
            actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
            resources = stmt["Resource"] if isinstance(stmt["Resource"], list) else [stmt["Resource"]]
            condition = stmt.get("Condition", {})
            for action in actions:
                for resource in resources:
                    tail = _tail(resource)
                    if action == "kms:Decrypt":
                        tail += " via ssm+secretsmanager"
                        assert len(condition["StringEquals"]["kms:ViaService"]) == 2  # ssm, secretsmanager
                    elif condition:
                        tail += f" (s3:prefix {condition['StringLike']['s3:prefix']})"
                    found.add(f"{action} {tail}")
    return found


def _role_of(function: str) -> str:
    return str(FUNCTIONS[function]["Properties"]["Role"]["Fn::GetAtt"][0])


def test_every_function_role_is_pinned() -> None:
    assert {_role_of(f) for f in FUNCTIONS} == set(EXPECTED)


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_role_grants_exactly_what_its_code_calls(role: str) -> None:
    granted = _granted(role)
    assert granted - EXPECTED[role] == set(), f"{role} grants more than pinned"
    assert EXPECTED[role] - granted == set(), f"{role} lost a grant its code needs"


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_no_role_scans_the_big_tables_or_batches_or_deletes_items(role: str) -> None:
    for grant in _granted(role):
        action, resource = grant.split(" ", 1)
        assert action not in ("dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem",
                              "dynamodb:DescribeTable", "dynamodb:ConditionCheckItem"), grant
        assert not (action == "dynamodb:Scan" and resource.split("/")[0] in (D, E)), grant
        assert "*" not in action, grant


# ---------------------------------------------------------------------------------------------- the code's calls
def _module_file(name: str) -> Path | None:
    for base in (LAYER, ROOT):
        path = base.joinpath(*name.split("."))
        if path.with_suffix(".py").is_file():
            return path.with_suffix(".py")
        if (path / "__init__.py").is_file():
            return path / "__init__.py"
    return None


@functools.cache
def _parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text())


@functools.cache
def _modules(function: str) -> frozenset[Path]:
    """The function's handler module and every callhook/functions module it imports, transitively."""
    start = ROOT / _code_dir(function) / "app.py"
    seen: set[Path] = set()
    todo = [start]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(_parsed(path)):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                if name.split(".")[0] in ("callhook", "functions"):
                    found = _module_file(name)
                    if found is not None:
                        todo.append(found)
    return frozenset(seen)


def _code_dir(function: str) -> str:
    return str(_template()["Resources"][function]["Properties"]["CodeUri"]).strip("/")


@functools.cache
def _template() -> dict[str, Any]:
    from callhook_local.template import load_template

    return load_template()


@functools.cache
def _calls(function: str) -> frozenset[str]:
    """Method names called, names used (SDK helper classes), and get_paginator's operation names."""
    return frozenset().union(*(_calls_in(path) for path in _modules(function)))


@functools.cache
def _calls_in(path: Path) -> frozenset[str]:
    calls: set[str] = set()
    for node in ast.walk(_parsed(path)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            calls.add(node.func.attr)
            if node.func.attr == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
                calls.add(str(node.args[0].value))
        elif isinstance(node, ast.Name):
            calls.add(node.id)
        elif isinstance(node, ast.Attribute):
            calls.add(node.attr)
    return frozenset(calls)


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_granted_action_is_one_the_functions_code_calls(function: str) -> None:
    role = _role_of(function)
    grants = _granted(role)
    actions = {g.split(" ", 1)[0] for g in grants}
    calls = _calls(function)
    for grant in sorted(grants):
        action, resource = grant.split(" ", 1)
        if action in ON_ITS_BEHALF:
            needs = ON_ITS_BEHALF[action][1]
            assert needs is None or needs in calls or "SSMProvider" in calls, f"{function}: {grant}"
            continue
        if action in TRANSCRIBE_READS and TRANSCRIBE_READS[action] in resource \
                and "transcribe:StartTranscriptionJob" in actions:
            continue  # Transcribe reads the recording and writes the transcript with the caller's credentials
        methods = CALLS.get(action, {_snake(action.split(":", 1)[1])})
        assert methods & calls, f"{function} is granted {grant} but its code never calls {sorted(methods)}"
