"""The state machine's Lambda Task invokes made in the stack's process (task_invoke.py) give what moto's own HTTP
round trip to the stack gave: the same response (status, function error, log result, payload) and the same
ClientError (code, message, HTTP status) for a denial by the state machine's role, a throttle and an unknown
function. Each case runs both paths side by side: `_invoke_lambda_function.__wrapped__` is moto's boto3 client over
HTTP. And an execution whose role may not invoke its Task's function still fails that Task with AccessDenied."""

from __future__ import annotations

import io
import json
import re
import textwrap
import time
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import InvocationResponse
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.utilities.collections import select_from_typed_dict

from callhook_local import iam, invoker, task_invoke
from callhook_local.sandbox import Throttled
from callhook_local.stack import LocalStack

ECHO = textwrap.dedent('''
    import json

    def handler(event, context):
        if event.get("raise"):
            raise ValueError("asked to fail: " + event["raise"])
        if "return" in event:
            return event["return"]
        print("echo log line")
        return {"echo": event}
''')


@pytest.fixture(scope="module")
def echo(local_stack: LocalStack) -> str:
    """A user function (create-function with a zip) that echoes, returns what it is told, or raises."""
    lam, iam_client = local_stack.client("lambda"), local_stack.client("iam")
    name = f"task-echo-{uuid.uuid4().hex[:8]}"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("echo.py", ECHO)
    role = iam_client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]
    lam.create_function(FunctionName=name, Runtime="python3.13", Handler="echo.handler", Role=role["Arn"],
                        Code={"ZipFile": buf.getvalue()}, Timeout=30)
    return name


def over_http() -> Callable[..., dict[str, Any]]:
    task_invoke.install()
    original: Callable[..., dict[str, Any]] = lambda_eval_utils._invoke_lambda_function.__wrapped__  # type: ignore[attr-defined]
    assert original.__module__ == lambda_eval_utils.__name__  # moto's own, over HTTP to the stack
    return original


def both(parameters: dict[str, Any], identity: iam.Identity | None = None) -> list[Any]:
    """What moto's HTTP path and the in-process path each give for the same Task invoke (the response as the
    engine keeps it, or the ClientError)."""
    outcomes: list[Any] = []
    for path in (over_http(), task_invoke.invoke):
        with iam.acting_as(identity):
            try:
                response = path(parameters=dict(parameters), region="us-east-1", state_credentials=None)
                # what the engine keeps of it (execute_lambda_function_integration); ResponseMetadata is dropped
                outcomes.append(select_from_typed_dict(typed_dict=InvocationResponse, obj=response))
            except ClientError as exc:
                outcomes.append(exc)
    return outcomes


def _masked(value: Any) -> Any:
    """A payload with the invocation's request id and log lines' ids masked (they differ between two calls)."""
    text = json.dumps(value, sort_keys=True)
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", text)
    return json.loads(text)


def _error(exc: Any) -> tuple[str, str, int]:
    assert isinstance(exc, ClientError), exc
    return (exc.response["Error"]["Code"], exc.response["Error"]["Message"],
            exc.response["ResponseMetadata"]["HTTPStatusCode"])


def test_a_successful_invoke_gives_moto_s_response(local_stack: LocalStack, echo: str) -> None:
    payload = lambda_eval_utils.to_payload_type({"dialog_id": "d-1", "n": [1, 2]})
    http, direct = both({"FunctionName": echo, "Payload": payload})
    assert http == direct
    assert direct == {"StatusCode": 200, "Payload": {"echo": {"dialog_id": "d-1", "n": [1, 2]}}}
    # a function ARN as the Task names it, and a result that is not an object
    arn = f"arn:aws:lambda:us-east-1:{iam.ACCOUNT}:function:{echo}"
    for value in ("a string", None, 42, [1, "x"]):
        http, direct = both({"FunctionName": arn, "Payload": lambda_eval_utils.to_payload_type({"return": value})})
        assert http == direct == {"StatusCode": 200, "Payload": value}


def test_log_type_tail_gives_the_log_result_as_over_http(local_stack: LocalStack, echo: str) -> None:
    http, direct = both({"FunctionName": echo, "Payload": b"{}", "LogType": "Tail"})
    assert set(http) == set(direct) == {"StatusCode", "Payload", "LogResult"}
    assert "echo log line" in __import__("base64").b64decode(direct["LogResult"]).decode()


def test_a_function_error_gives_moto_s_function_error_and_payload(local_stack: LocalStack, echo: str) -> None:
    http, direct = both({"FunctionName": echo, "Payload": lambda_eval_utils.to_payload_type({"raise": "x"})})
    assert {k: v for k, v in http.items() if k != "Payload"} == {k: v for k, v in direct.items() if k != "Payload"}
    assert direct["FunctionError"] == "Handled" and direct["StatusCode"] == 200
    assert _masked(http["Payload"]) == _masked(direct["Payload"])
    assert direct["Payload"]["errorType"] == "ValueError"
    assert direct["Payload"]["errorMessage"] == "asked to fail: x"


def test_an_unknown_function_is_moto_s_resource_not_found(local_stack: LocalStack) -> None:
    http, direct = both({"FunctionName": f"no-such-function-{uuid.uuid4().hex[:6]}", "Payload": b"{}"})
    assert _error(http) == _error(direct)
    assert _error(direct)[0] == "ResourceNotFoundException" and _error(direct)[2] == 404


def test_a_throttled_invoke_is_lambda_s_too_many_requests(local_stack: LocalStack, echo: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def no_free_sandbox(fn: Any, event: Any) -> Any:
        raise Throttled(fn.function_name)

    monkeypatch.setattr(invoker, "invoke_function", no_free_sandbox)
    http, direct = both({"FunctionName": echo, "Payload": b"{}"})
    assert _error(http) == _error(direct) == ("TooManyRequestsException", "Rate Exceeded.", 429)


def test_the_state_machine_role_is_checked_and_denied_as_over_http(local_stack: LocalStack) -> None:
    role = local_stack.roles["DialogWorkflowRole"]
    http, direct = both({"FunctionName": f"{local_stack.name}-IngestFunction", "Payload": b"{}"}, role)
    assert _error(http) == _error(direct)
    code, message, status = _error(direct)
    assert (code, status) == ("AccessDeniedException", 403)
    assert message == (f"User: {role.arn} is not authorized to perform: lambda:InvokeFunction on resource: "
                       f"arn:aws:lambda:us-east-1:{iam.ACCOUNT}:function:{local_stack.name}-IngestFunction because "
                       "no identity-based policy allows the lambda:InvokeFunction action")


def test_the_task_of_a_machine_whose_role_may_not_invoke_fails_with_access_denied(local_stack: LocalStack,
                                                                                echo: str) -> None:
    # Given a state machine with the workflow's role (which grants the template's functions only) and a Task
    # invoking another function, and one whose Task invokes a function the role grants
    sfn = local_stack.client("stepfunctions")
    role = local_stack.roles["DialogWorkflowRole"]

    def machine(function: str) -> str:
        definition = {"StartAt": "Call", "States": {"Call": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
            "Parameters": {"FunctionName": function, "Payload.$": "$"}}}}
        arn = str(sfn.create_state_machine(
            name=f"task-invoke-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition),
            roleArn=f"arn:aws:iam::{iam.ACCOUNT}:role/{role.name}")["stateMachineArn"])
        iam.STATE_MACHINES[arn] = role
        return arn

    def run(arn: str) -> tuple[str, list[dict[str, Any]]]:
        execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
        deadline = time.monotonic() + 60
        while (status := sfn.describe_execution(executionArn=execution)["status"]) == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        return status, sfn.get_execution_history(executionArn=execution)["events"]

    # When each runs
    denied_status, denied_events = run(machine(echo))
    _, allowed_events = run(machine(f"{local_stack.name}-WorkflowFailedFunction"))
    # Then the first Task fails with Lambda's AccessDenied for the machine's role, as over HTTP before
    failed = [e["taskFailedEventDetails"] for e in denied_events if e["type"] == "TaskFailed"]
    assert denied_status == "FAILED"
    assert failed and failed[0]["error"] == "Lambda.AccessDeniedException", failed
    assert f"{role.arn} is not authorized to perform: lambda:InvokeFunction" in failed[0]["cause"]
    assert "Status Code: 403; Error Code: AccessDeniedException" in failed[0]["cause"]
    # and the role's own grant still runs the function (its answer to an empty event is its own business)
    ran = [e for e in allowed_events if e["type"] in ("TaskSucceeded", "TaskFailed")]
    assert ran and ran[0].get("taskFailedEventDetails", {}).get("error") != "Lambda.AccessDeniedException", ran
