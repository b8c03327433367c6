"""Issue 13's findings in template.yaml, each shown under the local stack's IAM (callhook_local/iam.py): before its
fix each of these failed with AccessDenied, as the deployed stack would have."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from callhook_admin.services.config import put_action
from callhook_local import iam
from callhook_local.stack import LocalStack
from tests.support.stack import StackClient, unique

ACTION_PREFIX = "callhook-action-"  # docs/items.md "Actions": the functions a `type: "lambda"` action may name

ECHO_HANDLER = '''
def handler(event, context):
    return {"agent": {"email": "ann@example.com"}, "line": "online", "seen_call": event["telephony"]["call_id"]}
'''


def _zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("echo.py", source)
    return buf.getvalue()


def _user_function(stack: LocalStack, name: str) -> str:
    """`aws lambda create-function` with a Python zip, as an admin does (any credentials)."""
    stack.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))
    stack.client("lambda").create_function(
        FunctionName=name, Runtime="python3.13", Handler="echo.handler", Code={"ZipFile": _zip(ECHO_HANDLER)},
        Role=f"arn:aws:iam::{iam.ACCOUNT}:role/{name}", Timeout=10)
    return name


def _lambda_action(stack: StackClient, function_name: str) -> str:
    action_id = unique("lambda-action")
    put_action(stack.env["ACTIONS_TABLE"], {"action_id": action_id, "type": "lambda", "function_name": function_name,
                                            "result": {"operator_email": "agent.email", "topic": "line"}})
    return action_id


def _process(stack: StackClient, demo: Any, action_id: str) -> Any:
    channel = stack.channel(webhook_enrich_action=action_id,
                            advanced_config={"field_mapping": {"call_id": "id"}})
    return stack.process(channel, {"id": unique("call")})


# ---------------------------------------------------------------------------------------------- finding 1
def test_a_lambda_action_runs_end_to_end_on_a_function_named_with_the_action_prefix(stack: StackClient,
                                                                                    demo: Any) -> None:
    # Given a function created through the Lambda API under the prefix, and an action that names it
    name = _user_function(stack.stack, f"{ACTION_PREFIX}echo-{uuid.uuid4().hex[:8]}")
    # When a call goes through the workflow
    dialog = _process(stack, demo, _lambda_action(stack, name))
    # Then Enrich invoked it (as its role, which may) and its answer assigned the operator and the topic
    assert dialog.enrichment.status == "ok", dialog.enrichment
    assert dialog.enrichment.result["operator_email"] == "ann@example.com"
    assert dialog.operator_id == 17
    assert dialog.topic == "online"


def test_a_lambda_action_may_not_invoke_a_function_outside_the_prefix(stack: StackClient, demo: Any) -> None:
    target = f"{stack.stack.name}-AssignFunction"
    # Enrich's role is denied the stack's own functions by IAM
    with iam.acting_as(stack.stack.roles["EnrichFunctionRole"]), pytest.raises(ClientError) as denied:
        stack.stack.client("lambda").invoke(FunctionName=target, Payload=b"{}")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    # so an action naming one is refused when saved, naming the rule
    with pytest.raises(Exception, match="callhook-action-\\* only"):
        _lambda_action(stack, target)
    # and, written raw in the console, fails the enrichment with the same reason before any invoke
    action_id = unique("raw-lambda-action")
    stack.stack.client("dynamodb").put_item(TableName=stack.env["ACTIONS_TABLE"], Item={
        "action_id": {"S": action_id}, "type": {"S": "lambda"}, "function_name": {"S": target},
        "result": {"M": {"operator_email": {"S": "agent.email"}}}})
    dialog = _process(stack, demo, action_id)
    assert dialog.enrichment.status == "failed"
    assert "callhook-action-* only" in json.dumps(dialog.enrichment.model_dump(mode="json"))


# ---------------------------------------------------------------------------------------------- finding 2
@pytest.mark.parametrize("role", ["TranscribeFunctionRole", "KeepRecordingFunctionRole",
                                  "TranscribeCallbackFunctionRole"])
def test_the_functions_that_settle_a_finished_job_may_read_its_transcript(local_stack: LocalStack, role: str) -> None:
    # `_settle_existing_job` reads transcripts/<job>.json when a retried start finds the job already over
    bucket = local_stack.env["RECORDINGS_BUCKET"]
    key = f"transcripts/{local_stack.name}-{uuid.uuid4().hex}.json"
    local_stack.client("s3").put_object(Bucket=bucket, Key=key, Body=b'{"results": {}}')
    with iam.acting_as(local_stack.roles[role]):
        assert local_stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read() == b'{"results": {}}'


# ---------------------------------------------------------------------------------------------- finding 3
SECRET_READERS = ["IngestFunctionRole", "EnrichFunctionRole", "KeepRecordingFunctionRole"]


@pytest.mark.parametrize("role", SECRET_READERS)
def test_a_securestring_under_a_customer_managed_key_is_readable_by_the_functions_that_read_secrets(
        local_stack: LocalStack, role: str) -> None:
    key_id = local_stack.client("kms").create_key(Description="customer-managed")["KeyMetadata"]["KeyId"]
    name = f"/callhook/test/{uuid.uuid4().hex[:8]}"
    local_stack.client("ssm").put_parameter(Name=name, Value="s3cret", Type="SecureString", KeyId=key_id)
    with iam.acting_as(local_stack.roles[role]):
        value = local_stack.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    assert value == "s3cret"


def test_a_secret_under_a_customer_managed_key_is_readable_by_enrich(local_stack: LocalStack) -> None:
    key_id = local_stack.client("kms").create_key(Description="customer-managed")["KeyMetadata"]["KeyId"]
    name = f"callhook/test-{uuid.uuid4().hex[:8]}"
    local_stack.client("secretsmanager").create_secret(Name=name, SecretString="s3cret", KmsKeyId=key_id)
    with iam.acting_as(local_stack.roles["EnrichFunctionRole"]):
        value = local_stack.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    assert value == "s3cret"


def test_customer_managed_keys_are_usable_only_through_ssm_and_secrets_manager(local_stack: LocalStack) -> None:
    kms = local_stack.client("kms")
    key_id = kms.create_key(Description="customer-managed")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    with iam.acting_as(local_stack.roles["EnrichFunctionRole"]), pytest.raises(ClientError) as denied:
        kms.decrypt(CiphertextBlob=blob, KeyId=key_id)  # directly: kms:ViaService is not SSM/Secrets Manager
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"


def test_secrets_outside_the_callhook_prefix_are_refused_as_the_readme_says(local_stack: LocalStack) -> None:
    name = f"/other/{uuid.uuid4().hex[:8]}"
    local_stack.client("ssm").put_parameter(Name=name, Value="x", Type="SecureString")
    with iam.acting_as(local_stack.roles["EnrichFunctionRole"]), pytest.raises(ClientError) as denied:
        local_stack.client("ssm").get_parameter(Name=name, WithDecryption=True)
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
