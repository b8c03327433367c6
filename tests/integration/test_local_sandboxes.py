"""Sandboxes on the local stack: each invocation runs in a worker process of its function, with the environment and
the role credentials Lambda gives it, reused warm, started cold (REPORT with Init Duration), stopped at its Timeout.

The probes are user functions (`create-function` with a zip, as a person would) and the template's own functions.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import textwrap
import threading
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from callhook_local.sandbox import FUNCTIONS, log_functions_to
from callhook_local.stack import LocalStack
from tests.support.stack import StackClient, unique

PROBE = textwrap.dedent('''
    import json, logging, os, threading, time

    import boto3

    log = logging.getLogger("sandbox.probe")
    STARTED = time.time()  # module scope: runs once per sandbox, at its cold start


    def _denied(call):
        try:
            call()
            return "allowed"
        except Exception as exc:
            return exc.response["Error"]["Code"]


    def handler(event, context):
        op = event.get("op")
        if op == "env":
            return {"env": dict(os.environ), "pid": os.getpid(), "request_id": context.aws_request_id,
                    "remaining_ms": context.get_remaining_time_in_millis()}
        if op == "whoami":
            return {"arn": boto3.client("sts").get_caller_identity()["Arn"], "pid": os.getpid()}
        if op == "denied":
            found = {}
            worker = threading.Thread(target=lambda: found.update(
                thread=_denied(lambda: boto3.client("dynamodb").list_tables())))
            worker.start()
            worker.join()
            return {"call": _denied(lambda: boto3.client("dynamodb").list_tables()), **found}
        if op == "sleep":
            time.sleep(event["seconds"])
            return {"pid": os.getpid()}
        if op == "exit":
            os._exit(event.get("code", 3))
        if op == "log":
            print("printed by the probe", flush=True)
            log.warning("logged by the probe %s", "with args", extra={"probe_key": "probe value"})
            return {"pid": os.getpid()}
        if op == "raise":
            raise KeyError("missing")
        return {"pid": os.getpid()}
''')


@pytest.fixture(scope="module")
def probe(local_stack: LocalStack) -> Callable[..., str]:
    """Creates a user function running PROBE under a role that grants nothing; returns its name."""
    lam, iam_client = local_stack.client("lambda"), local_stack.client("iam")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("probe.py", PROBE)

    def create(timeout: int = 30, **env: str) -> str:
        name = f"sandbox-probe-{uuid.uuid4().hex[:8]}"
        role = iam_client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]
        lam.create_function(FunctionName=name, Runtime="python3.13", Handler="probe.handler", Role=role["Arn"],
                            Code={"ZipFile": buf.getvalue()}, Timeout=timeout, MemorySize=256,
                            Environment={"Variables": env})
        return name
    return create


def invoke(stack: LocalStack, name: str, event: dict[str, Any]) -> tuple[dict[str, Any], str, bool]:
    """(payload, the invocation's log tail, whether it failed) of a RequestResponse invoke with LogType=Tail."""
    resp = stack.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
    log = base64.b64decode(resp.get("LogResult", "")).decode()
    return json.loads(resp["Payload"].read()), log, "FunctionError" in resp


def report(log: str) -> dict[str, str]:
    [line] = [line for line in log.splitlines() if line.startswith("REPORT RequestId: ")]
    return dict(field.split(": ", 1) for field in line.removeprefix("REPORT ").split("\t"))


def test_each_function_sees_its_own_environment_and_what_lambda_sets(
        local_stack: LocalStack, probe: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Given two functions, each with a variable of its own, and a variable set in the stack's own process
    monkeypatch.setenv("CALLHOOK_STACK_PROCESS_ONLY", "1")
    first, second = probe(ONLY_FIRST="a"), probe(ONLY_SECOND="b")
    # When each reads its environment
    env_first, _, _ = invoke(local_stack, first, {"op": "env"})
    env_second, _, _ = invoke(local_stack, second, {"op": "env"})
    # Then each sees its own variables only, nothing of the stack's process
    a, b = env_first["env"], env_second["env"]
    assert a["ONLY_FIRST"] == "a" and "ONLY_SECOND" not in a
    assert b["ONLY_SECOND"] == "b" and "ONLY_FIRST" not in b
    assert "CALLHOOK_STACK_PROCESS_ONLY" not in a and "MOTO_PORT" not in a
    assert env_first["pid"] != os.getpid() and env_first["pid"] != env_second["pid"]
    # And what Lambda sets: its name, memory, region, handler, log group, and the role's temporary credentials
    assert a["AWS_LAMBDA_FUNCTION_NAME"] == first
    assert a["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert a["AWS_REGION"] == a["AWS_DEFAULT_REGION"] == "us-east-1"
    assert a["_HANDLER"] == "probe.handler"
    assert a["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{first}"
    assert a["AWS_ACCESS_KEY_ID"] != b["AWS_ACCESS_KEY_ID"]
    assert a["AWS_ACCESS_KEY_ID"] not in ("local", os.environ.get("AWS_ACCESS_KEY_ID"))
    assert a["AWS_SESSION_TOKEN"]
    assert a["AWS_ENDPOINT_URL"] == local_stack.endpoint
    assert 0 < env_first["remaining_ms"] <= 30_000


def test_template_functions_get_globals_merged_with_their_own_environment(stack: StackClient) -> None:
    # Given the template gives STATE_MACHINE_ARN to Ingest (and Reconcile), not to Assign
    lam = stack.stack.client("lambda")
    ingest = lam.get_function_configuration(FunctionName=stack.stack.physical("IngestFunction"))
    assign = lam.get_function_configuration(FunctionName=stack.stack.physical("AssignFunction"))
    assert "STATE_MACHINE_ARN" in ingest["Environment"]["Variables"]
    assert "STATE_MACHINE_ARN" not in assign["Environment"]["Variables"]
    assert ingest["Environment"]["Variables"]["DIALOGS_TABLE"] == assign["Environment"]["Variables"]["DIALOGS_TABLE"]
    assert ingest["Timeout"] == 10 and assign["Timeout"] == 30
    # When Ingest's own variable is taken away, as an operator could, and deployed as `sam deploy` deploys it: a new
    # version the API's alias points at (a new configuration: new sandboxes)
    name = stack.stack.physical("IngestFunction")
    before = ingest["Environment"]["Variables"]

    def deploy(variables: dict[str, str]) -> None:
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
        lam.update_alias(FunctionName=name, Name="live",
                         FunctionVersion=lam.publish_version(FunctionName=name)["Version"])

    deploy({k: v for k, v in before.items() if k != "STATE_MACHINE_ARN"})
    try:
        resp = stack.post(stack.channel(), json_body={"call_id": unique("call")})
    finally:
        deploy(before)
    # Then the webhook fails (its sandbox no longer has it), and works again once it is back
    assert resp.status_code == 500
    assert stack.post(stack.channel(), json_body={"call_id": unique("call")}).status_code == 200


def test_the_credentials_are_the_role_s_own_and_a_call_outside_it_is_denied_from_any_thread(
        local_stack: LocalStack, probe: Callable[..., str]) -> None:
    name = probe()
    # When the function asks STS who it is
    who, _, failed = invoke(local_stack, name, {"op": "whoami"})
    # Then it is its role's session, as on Lambda
    assert not failed, who
    assert who["arn"] == f"arn:aws:sts::123456789012:assumed-role/{name}/{name}"
    # And a call its role does not grant is denied, from the handler's thread and from a thread it starts
    denied, _, _ = invoke(local_stack, name, {"op": "denied"})
    assert denied == {"call": "AccessDeniedException", "thread": "AccessDeniedException"}


def test_a_warm_sandbox_is_reused_and_a_busy_one_makes_a_new_one(
        local_stack: LocalStack, probe: Callable[..., str]) -> None:
    name = probe()
    first, first_log, _ = invoke(local_stack, name, {})
    again, again_log, _ = invoke(local_stack, name, {})
    # The second invocation ran in the same (warm) process, and only the first was a cold start
    assert again["pid"] == first["pid"]
    assert "Init Duration" in report(first_log)
    assert "Init Duration" not in report(again_log)
    # While one invocation is running, another gets a sandbox of its own (cold)
    slow: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: slow.update(result=invoke(local_stack, name, {"op": "sleep",
                                                                                            "seconds": 3})))
    pool = local_stack.sandboxes.pools[name]  # type: ignore[union-attr]
    worker.start()
    try:
        import time
        deadline = time.monotonic() + 10
        while pool.busy < 1:  # the slow invocation holds the warm sandbox
            assert time.monotonic() < deadline
            time.sleep(0.01)
        concurrent, concurrent_log, _ = invoke(local_stack, name, {})
    finally:
        worker.join()
    assert concurrent["pid"] != slow["result"][0]["pid"]
    assert first["pid"] in (concurrent["pid"], slow["result"][0]["pid"])
    cold = [r for r in (report(concurrent_log), report(slow["result"][1])) if "Init Duration" in r]
    assert len(cold) == 1


def test_the_report_line_is_lambda_s(local_stack: LocalStack, probe: Callable[..., str]) -> None:
    name = probe()
    _, log, _ = invoke(local_stack, name, {})
    fields = report(log)
    assert re.fullmatch(r"[0-9a-f-]{36}", fields["RequestId"])
    assert re.fullmatch(r"\d+\.\d\d ms", fields["Duration"])
    assert re.fullmatch(r"\d+ ms", fields["Billed Duration"])
    assert fields["Memory Size"] == "256 MB"
    assert re.fullmatch(r"\d+ MB", fields["Max Memory Used"])
    assert float(fields["Init Duration"].removesuffix(" ms")) > 0


def test_the_timeout_stops_the_sandbox_and_fails_as_on_aws(local_stack: LocalStack, probe: Callable[..., str]) -> None:
    name = probe(timeout=1)
    first, _, _ = invoke(local_stack, name, {})
    # When an invocation runs past the function's Timeout
    payload, log, failed = invoke(local_stack, name, {"op": "sleep", "seconds": 5})
    # Then it failed as Lambda fails it, and its sandbox is gone: the next invocation starts a new one
    assert failed
    assert payload["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(r"RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds",
                        payload["errorMessage"])
    assert float(report(log)["Duration"].removesuffix(" ms")) >= 1000
    after, after_log, _ = invoke(local_stack, name, {})
    assert after["pid"] != first["pid"]
    assert "Init Duration" in report(after_log)
    with pytest.raises(ProcessLookupError):
        os.kill(first["pid"], 0)


def test_a_state_machine_task_sees_sandbox_timedout(stack: StackClient, probe: Callable[..., str]) -> None:
    # Given a one-state machine whose Task calls a function that outlives its Timeout
    name = probe(timeout=1)
    local = stack.stack
    role = local.client("iam").create_role(RoleName=unique("sfn"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "states.amazonaws.com"}}]}))["Role"]
    definition = {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
        "Parameters": {"FunctionName": name, "Payload": {"op": "sleep", "seconds": 5}}}}}
    machine = local.client("stepfunctions").create_state_machine(
        name=unique("timeout"), definition=json.dumps(definition), roleArn=role["Arn"])["stateMachineArn"]
    execution = local.client("stepfunctions").start_execution(stateMachineArn=machine)["executionArn"]
    # When it runs, Then the execution fails with the error Step Functions gets from Lambda
    import time
    deadline = time.monotonic() + 30
    while (desc := local.client("stepfunctions").describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert desc["status"] == "FAILED"
    assert desc["error"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in desc["cause"]


def test_a_crash_fails_that_invocation_and_the_next_gets_a_fresh_sandbox(
        local_stack: LocalStack, probe: Callable[..., str]) -> None:
    name = probe()
    first, _, _ = invoke(local_stack, name, {})
    payload, _, failed = invoke(local_stack, name, {"op": "exit", "code": 3})
    assert failed
    assert payload["errorType"] == "Runtime.ExitError"
    assert payload["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
    after, after_log, failed_after = invoke(local_stack, name, {})
    assert not failed_after and after["pid"] != first["pid"]
    assert "Init Duration" in report(after_log)


def test_an_exception_is_the_python_runtime_s_error_payload(local_stack: LocalStack,
                                                            probe: Callable[..., str]) -> None:
    name = probe()
    payload, _, failed = invoke(local_stack, name, {"op": "raise"})
    assert failed
    assert payload["errorType"] == "KeyError" and payload["errorMessage"] == "'missing'"
    assert payload["stackTrace"]
    # the sandbox survives a handled exception: the next invocation is warm
    _, log, _ = invoke(local_stack, name, {})
    assert "Init Duration" not in report(log)


def test_output_and_log_records_reach_the_stack_s_logging_not_its_stdout(
        local_stack: LocalStack, probe: Callable[..., str], capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    name = probe()
    capsys.readouterr()
    _, log, _ = invoke(local_stack, name, {"op": "log"})
    # The function's output and Lambda's REPORT line are records of its logger (pytest keeps them with this test),
    # never writes to the stack's stdout from whichever thread ran the invocation
    assert "printed by the probe" not in capsys.readouterr().out
    lines = [r for r in caplog.records if r.name == f"callhook_local.functions.{name}"]
    assert [r.getMessage() for r in lines if r.stream == "stdout"] == ["printed by the probe"]
    [report_line] = [r.getMessage() for r in lines if r.stream == "report"]
    assert report_line.startswith("REPORT RequestId: ")
    assert "printed by the probe\n" in log
    [record] = [r for r in caplog.records if r.name == "sandbox.probe"]
    assert record.getMessage() == "logged by the probe with args"
    assert record.levelname == "WARNING" and record.probe_key == "probe value"


def test_make_run_prints_the_functions_output_on_its_console(local_stack: LocalStack,
                                                            probe: Callable[..., str]) -> None:
    name = probe()
    console = io.StringIO()
    handler = log_functions_to(console)
    try:
        invoke(local_stack, name, {"op": "log"})
    finally:
        FUNCTIONS.removeHandler(handler)
    printed = console.getvalue().splitlines()
    assert "printed by the probe" in printed
    assert printed[-1].startswith("REPORT RequestId: ")


def test_a_template_function_runs_in_its_sandbox(stack: StackClient, caplog: pytest.LogCaptureFixture) -> None:
    # The webhook's function is served by a sandbox of its own: Lambda's REPORT line with its memory size
    name = stack.stack.physical("IngestFunction")
    pool = stack.stack.sandboxes.pools[name]  # type: ignore[union-attr]
    before = pool.invocations
    resp = stack.post(stack.channel(), json_body={"call_id": unique("call")})
    assert resp.status_code == 200
    assert pool.invocations == before + 1
    reports = [r.getMessage() for r in caplog.records if r.name == f"callhook_local.functions.{name}"
               and r.getMessage().startswith("REPORT ")]
    assert len(reports) == 1 and "\tMemory Size: 1769 MB\t" in reports[0]  # ingest's own MemorySize


def test_the_webhook_front_calls_the_function_directly_under_its_resource_policy(stack: StackClient) -> None:
    """API Gateway invokes Lambda itself: the front checks the route's permission and dispatches to the function's
    sandbox in this process (no HTTP request into moto); a route whose SourceArn no permission covers gets 500."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    from callhook_local import iam
    from callhook_local.api import Route, WebhookApi
    from tests.conftest import free_port

    local = stack.stack
    post = next(r for r in local.routes if r.method == "POST" and r.path == "/webhooks/{channel_id}")
    other = iam.service_principal("apigateway.amazonaws.com", f"arn:aws:execute-api:us-east-1:{iam.ACCOUNT}:"
                                  "another-api/$default/POST/webhooks/x")
    fronts = {"own": WebhookApi([post], local.host, free_port()),
              "other": WebhookApi([Route(post.method, post.path, post.function_name, other)], local.host, free_port())}
    requests_to_moto: list[str] = []
    dispatch = DomainDispatcherApplication.__call__

    def counting(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        requests_to_moto.append(environ.get("PATH_INFO", ""))
        return dispatch(self, environ, start_response)

    channel = stack.channel()
    for front in fronts.values():
        front.start()
    try:
        DomainDispatcherApplication.__call__ = counting  # type: ignore[method-assign]
        try:
            url = f"http://{local.host}:{{}}/webhooks/{channel['channel_id']}"
            denied = stack.http.post(url.format(fronts["other"].port), json={"call_id": unique("call")},
                                     headers={"X-Webhook-Token": channel["webhook_token"]}, timeout=30)
            before = len(requests_to_moto)
            served = stack.http.post(url.format(fronts["own"].port), json={"call_id": unique("call")},
                                     headers={"X-Webhook-Token": channel["webhook_token"]}, timeout=30)
        finally:
            DomainDispatcherApplication.__call__ = dispatch  # type: ignore[method-assign]
    finally:
        for front in fronts.values():
            front.stop()
    assert denied.status_code == 500 and denied.json() == {"message": "Internal Server Error"}
    assert served.status_code == 200, served.text
    # the function's own calls reach moto over HTTP (its PutItem, StartExecution...), the invoke itself does not
    assert requests_to_moto[before:]
    assert not any(f"/functions/{post.function_name}/" in path for path in requests_to_moto[before:])


def test_past_the_cap_an_invocation_waits_then_is_throttled_as_lambda_throttles(
        local_stack: LocalStack, probe: Callable[..., str]) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    sandboxes = local_stack.sandboxes
    assert sandboxes is not None
    name = probe()
    invoke(local_stack, name, {})  # one warm sandbox
    cap, wait = sandboxes.max_per_function, sandboxes.throttle_after_s
    sandboxes.max_per_function, sandboxes.throttle_after_s = 1, 0.5
    try:
        busy = threading.Thread(target=invoke, args=(local_stack, name, {"op": "sleep", "seconds": 3}))
        busy.start()
        import time
        deadline = time.monotonic() + 10
        while sandboxes.pools[name].busy < 1:  # the only sandbox allowed is busy
            assert time.monotonic() < deadline
            time.sleep(0.01)
        once = boto3.client("lambda", endpoint_url=local_stack.endpoint, region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local",
                            config=Config(retries={"max_attempts": 1, "mode": "standard"}))
        with pytest.raises(ClientError) as throttled:
            once.invoke(FunctionName=name, Payload=b"{}")
        busy.join()
        # once it is free again, the next invocation is served (warm)
        _, log, failed = invoke(local_stack, name, {})
    finally:
        sandboxes.max_per_function, sandboxes.throttle_after_s = cap, wait
    assert throttled.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert not failed and "Init Duration" not in report(log)


def test_an_idle_sandbox_is_reclaimed_and_a_busy_one_is_not(local_stack: LocalStack,
                                                            probe: Callable[..., str]) -> None:
    import time
    sandboxes = local_stack.sandboxes
    assert sandboxes is not None
    name = probe()
    pool = sandboxes.pool(name)
    # Given two warm sandboxes of a function
    pair = [threading.Thread(target=invoke, args=(local_stack, name, {"op": "sleep", "seconds": 0.5}))
            for _ in range(2)]
    for thread in pair:
        thread.start()
    for thread in pair:
        thread.join()
    pids = {sandbox.pid for sandbox in pool.free}
    assert len(pids) == 2
    # When one of them is busy and the other stays free past the idle time
    busy: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: busy.update(result=invoke(local_stack, name, {
        "op": "sleep", "seconds": 1.5})))
    worker.start()
    while pool.busy == 0:
        time.sleep(0.01)
    before = sandboxes.idle_s
    sandboxes.set_idle(0.3)  # Lambda: some minutes; the local default is 5 minutes
    try:
        deadline = time.monotonic() + 10
        while pool.reclaimed == 0:
            assert time.monotonic() < deadline, "the idle sandbox was not reclaimed"
            time.sleep(0.05)
        worker.join()
    finally:
        sandboxes.set_idle(before)
    # Then the idle one is gone, and the busy one finished its invocation
    payload, _, failed = busy["result"]
    assert not failed and payload["pid"] in pids
    (idle_pid,) = pids - {payload["pid"]}
    with pytest.raises(ProcessLookupError):
        os.kill(idle_pid, 0)
    assert pool.reclaimed == 1
    # And the next invocation is warm on the one that was busy
    after, log, _ = invoke(local_stack, name, {})
    assert after["pid"] == payload["pid"] and "Init Duration" not in report(log)
