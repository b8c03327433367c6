"""IAM on the local stack: every AWS call a function makes is authorized against its role as the SAM transform of
template.yaml deploys it, and denied as AWS denies it; the state machine's Task invocations and EventBridge's are
checked too; any other credentials (admin CLI, AWS CLI, tests) stay allowed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from callhook_local import iam
from callhook_local.stack import LocalStack
from callhook_local.template import ROOT

NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})


def _error(call: object) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_a_function_role_is_denied_what_its_policies_do_not_grant_in_each_service_s_error_shape(
        local_stack: LocalStack) -> None:
    s = local_stack
    ddb, s3, lam = s.client("dynamodb"), s.client("s3"), s.client("lambda")
    role = s.roles["AssignFunctionRole"]
    with iam.acting_as(role):
        # allowed: what its policy templates grant (DynamoDBReadPolicy on Dialogs, an index of Operators)
        ddb.get_item(TableName=s.env["DIALOGS_TABLE"], Key={"dialog_id": {"S": "nope"}})
        ddb.query(TableName=s.env["OPERATORS_TABLE"], IndexName="by_email", KeyConditionExpression="email_key = :e",
                  ExpressionAttributeValues={":e": {"S": "nobody@example.com"}})
        put = _error(lambda: ddb.put_item(TableName=s.env["CHANNELS_TABLE"], Item={"channel_id": {"S": "x"}}))
        get = _error(lambda: s3.get_object(Bucket=s.env["RECORDINGS_BUCKET"], Key="recordings/x.wav"))
        inv = _error(lambda: lam.invoke(FunctionName=f"{s.name}-BeginFunction", Payload=b"{}"))
    principal = f"arn:aws:sts::{iam.ACCOUNT}:assumed-role/{s.name}-AssignFunctionRole/{s.name}-AssignFunctionRole"
    assert put.response["Error"]["Code"] == "AccessDeniedException"
    assert put.response["Error"]["Message"] == (
        f"User: {principal} is not authorized to perform: dynamodb:PutItem on resource: "
        f"arn:aws:dynamodb:us-east-1:{iam.ACCOUNT}:table/{s.env['CHANNELS_TABLE']} because no identity-based policy "
        "allows the dynamodb:PutItem action")
    assert get.response["Error"]["Code"] == "AccessDenied"
    assert get.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert f"s3:GetObject on resource: arn:aws:s3:::{s.env['RECORDINGS_BUCKET']}/recordings/x.wav" in str(get)
    assert inv.response["Error"]["Code"] == "AccessDeniedException"
    assert inv.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "lambda:InvokeFunction" in inv.response["Error"]["Message"]


def test_a_condition_on_the_grant_is_evaluated(local_stack: LocalStack) -> None:
    # the reconciler may list the bucket only under spool/ (s3:prefix condition in template.yaml)
    s3 = local_stack.client("s3")
    with iam.acting_as(local_stack.roles["ReconcileFunctionRole"]):
        s3.list_objects_v2(Bucket=local_stack.env["RECORDINGS_BUCKET"], Prefix="spool/")
        denied = _error(lambda: s3.list_objects_v2(Bucket=local_stack.env["RECORDINGS_BUCKET"], Prefix="recordings/"))
    assert denied.response["Error"]["Code"] == "AccessDenied"


def test_threads_a_function_starts_for_a_transfer_sign_as_the_function(local_stack: LocalStack) -> None:
    import io

    s3 = local_stack.client("s3")
    with iam.acting_as(local_stack.roles["ReconcileFunctionRole"]):  # no s3:PutObject anywhere
        denied = _error(lambda: s3.upload_fileobj(io.BytesIO(b"x"), local_stack.env["RECORDINGS_BUCKET"], "spool/y"))
    assert "s3:PutObject" in str(denied)


def test_the_state_machine_role_is_checked_for_each_task_invocation(local_stack: LocalStack) -> None:
    lam = local_stack.client("lambda")
    with iam.acting_as(local_stack.roles["DialogWorkflowRole"]):
        denied = _error(lambda: lam.invoke(FunctionName=f"{local_stack.name}-IngestFunction", Payload=b"{}"))
    assert denied.response["Error"]["Code"] == "AccessDeniedException"
    assert "DialogWorkflowRole" in denied.response["Error"]["Message"]


def test_eventbridge_invokes_a_function_only_where_its_resource_policy_allows(local_stack: LocalStack) -> None:
    lam = local_stack.client("lambda")
    rule = f"arn:aws:events:us-east-1:{iam.ACCOUNT}:rule/{local_stack.name}-TranscriptionJobStateRule"
    with iam.acting_as(local_stack.rule_identity(rule)):
        # the template's AWS::Lambda::Permission lets this rule invoke the completion function
        lam.invoke(FunctionName=f"{local_stack.name}-TranscribeCallbackFunction", InvocationType="Event",
                   Payload=json.dumps({"detail": {}}).encode())
        denied = _error(lambda: lam.invoke(FunctionName=f"{local_stack.name}-AssignFunction", Payload=b"{}"))
    assert denied.response["Error"]["Code"] == "AccessDeniedException"
    assert "no resource-based policy allows the lambda:InvokeFunction action" in denied.response["Error"]["Message"]
    other = f"arn:aws:events:us-east-1:{iam.ACCOUNT}:rule/someone-elses-rule"
    with iam.acting_as(local_stack.rule_identity(other)):
        assert _error(lambda: lam.invoke(FunctionName=f"{local_stack.name}-TranscribeCallbackFunction",
                                         Payload=b"{}")).response["Error"]["Code"] == "AccessDeniedException"


def test_an_operation_the_reference_cannot_map_is_refused_loudly(local_stack: LocalStack) -> None:
    ddb = boto3.client("dynamodb", endpoint_url=local_stack.endpoint, region_name="us-east-1", config=NO_RETRY,
                       aws_access_key_id="x", aws_secret_access_key="x")
    with iam.acting_as(local_stack.roles["AssignFunctionRole"]):
        refused = _error(lambda: ddb.execute_statement(Statement=f'SELECT * FROM "{local_stack.env["DIALOGS_TABLE"]}"'))
    assert refused.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert "dynamodb:ExecuteStatement" in str(refused)


def test_other_credentials_stay_allowed_for_the_admin_and_the_aws_cli(local_stack: LocalStack) -> None:
    anyone = boto3.client("dynamodb", endpoint_url=local_stack.endpoint, region_name="us-east-1",
                          aws_access_key_id="AKIAANYBODY", aws_secret_access_key="whatever")
    assert local_stack.env["CHANNELS_TABLE"] in anyone.list_tables()["TableNames"]
    aws = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
    assert aws is not None, "the AWS CLI is a dev dependency (awscli in pyproject.toml): `make test` installs it"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "cli", "AWS_SECRET_ACCESS_KEY": "cli", "AWS_DEFAULT_REGION": "us-east-1"}
    out = subprocess.run([aws, "stepfunctions", "list-state-machines", "--endpoint-url", local_stack.endpoint],
                         capture_output=True, text=True, env=env, timeout=120, check=True).stdout
    assert f"{local_stack.name}-DialogWorkflow" in out


# ------------------------------------------------------------------------- a template with a permission removed
SCRIPT = textwrap.dedent('''
    import json, sys
    from pathlib import Path
    from callhook_local.stack import LocalStack
    from tests.conftest import free_port
    from tests.support.stack import StackClient, unique

    stack = LocalStack(aws_port=free_port(), api_port=free_port(), name="callhook-iam-removed",
                       template_path=Path(sys.argv[1])).start()
    try:
        client = StackClient(stack)
        channel = client.channel()
        resp = client.post(channel, json_body={"call_id": unique("call")})
        dialog_id = resp.json()["dialog_id"]
        execution = client.wait_execution(dialog_id, timeout=60)
        failures = [e for e in client.history(execution["executionArn"]) if e["type"] == "TaskFailed"]
        print("RESULT " + json.dumps({"status": resp.status_code, "failures": [
            e["taskFailedEventDetails"] for e in failures]}), flush=True)
    finally:
        stack.stop()
''')


def test_a_template_with_one_permission_removed_fails_locally_where_aws_would(tmp_path: Path) -> None:
    # Given template.yaml without the state machine's permission to invoke the Begin step
    text = (ROOT / "template.yaml").read_text()
    line = "        - LambdaInvokePolicy: {FunctionName: !Ref BeginFunction}\n"
    assert text.count(line) == 1
    (tmp_path / "template.yaml").write_text(text.replace(line, ""))
    (tmp_path / "statemachine").symlink_to(ROOT / "statemachine")
    # When a call arrives
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "template.yaml")], cwd=ROOT,
                         capture_output=True, text=True, timeout=240, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                             str(ROOT / p) for p in (".", "layers/common/python", "local", "cli"))})
    result_line = [ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")]
    assert result_line, run.stderr[-3000:]
    result = json.loads(result_line[0][len("RESULT "):])
    # Then the webhook is kept, and the Begin task fails with Lambda's AccessDenied for the state machine's role
    assert result["status"] == 200
    assert result["failures"], result
    first = result["failures"][0]
    assert "AccessDenied" in first["error"] + first.get("cause", ""), first
    assert "DialogWorkflowRole" in first.get("cause", ""), first


# ------------------------------------------------------------------------- functions created through the Lambda API
LIST_TABLES = '''
import boto3

def handler(event, context):
    try:
        return {"tables": len(boto3.client("dynamodb").list_tables()["TableNames"])}
    except Exception as exc:
        return {"error": exc.response["Error"]["Code"]}
'''


def test_a_function_created_with_a_zip_runs_its_handler_as_its_own_role(local_stack: LocalStack) -> None:
    import io
    import uuid
    import zipfile

    name = f"user-fn-{uuid.uuid4().hex[:8]}"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", LIST_TABLES)
    iam_client, lam = local_stack.client("iam"), local_stack.client("lambda")
    role_arn = iam_client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    lam.create_function(FunctionName=name, Runtime="python3.13", Handler="app.handler", Role=role_arn,
                        Code={"ZipFile": buf.getvalue()})

    def invoke() -> dict[str, object]:
        return dict(json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()))

    # its role grants nothing yet: denied, as on AWS
    assert invoke() == {"error": "AccessDeniedException"}
    # once its role allows it, the same code lists the tables
    iam_client.put_role_policy(RoleName=name, PolicyName="list", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:ListTables",
                                                "Resource": "*"}]}))
    assert int(invoke()["tables"]) > 0  # type: ignore[call-overload]


def test_the_webhook_front_invokes_as_api_gateway_for_its_route(local_stack: LocalStack) -> None:
    lam = local_stack.client("lambda")
    post = next(r for r in local_stack.routes if r.method == "POST" and r.path == "/webhooks/{channel_id}")
    assert post.invoker.source_arn.endswith("/$default/POST/webhooks/x")
    with iam.acting_as(post.invoker):  # the template's permission for the route covers Ingest, nothing else
        denied = _error(lambda: lam.invoke(FunctionName=f"{local_stack.name}-AssignFunction", Payload=b"{}"))
    assert "no resource-based policy allows the lambda:InvokeFunction action" in denied.response["Error"]["Message"]
    other_api = iam.service_principal("apigateway.amazonaws.com", "arn:aws:execute-api:us-east-1:"
                                      f"{iam.ACCOUNT}:another-api/$default/POST/webhooks/x")
    with iam.acting_as(other_api):
        assert _error(lambda: lam.invoke(FunctionName=f"{local_stack.name}-IngestFunction", Qualifier="$LATEST",
                                         Payload=b"{}")).response["Error"]["Code"] == "AccessDeniedException"
