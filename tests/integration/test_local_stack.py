"""The local stack itself: several stacks one after another in one process (as `make bench` runs them).

Run in a subprocess: a local stack sets process-wide settings (AWS_ENDPOINT_URL, MOTO_PORT) that would redirect this
test session's own stack.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent('''
    import time, requests
    from callhook_admin.services.config import put_channel
    from callhook_local.stack import LocalStack
    from tests.conftest import free_port

    for name in ("callhook-seq-a", "callhook-seq-b"):
        stack = LocalStack(aws_port=free_port(), api_port=free_port(), name=name).start()
        try:
            put_channel(stack.env["CHANNELS_TABLE"], {"channel_id": "c", "webhook_token": "t" * 20,
                                                      "advanced_config": {"field_mapping": {"call_id": "id"}}})
            answer = requests.post(f"{stack.api_url}/webhooks/c", json={"id": "one"},
                                   headers={"X-Webhook-Token": "t" * 20}, timeout=30).json()
            sfn = stack.client("stepfunctions")
            arn = stack.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:") + ":" + answer["dialog_id"]
            deadline = time.monotonic() + 30
            while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING" \\
                    and time.monotonic() < deadline:
                time.sleep(0.05)
            print(name, status, flush=True)
            variables = stack.client("lambda").get_function_configuration(
                FunctionName=stack.physical("IngestFunction"))["Environment"]["Variables"]
            print(name, "CALLHOOK_PROBE", variables.get("CALLHOOK_PROBE"), flush=True)
        finally:
            stack.stop()
''')


def test_stacks_started_one_after_another_each_run_their_workflows() -> None:
    # When two stacks run one after the other in one process
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=240, check=False,
                            env={"PYTHONPATH": ".:layers/common/python:local:cli", "PATH": "/usr/bin:/bin",
                                 "POWERTOOLS_SERVICE_NAME": "callhook", "POWERTOOLS_METRICS_NAMESPACE": "Callhook",
                                 "CALLHOOK_FUNCTION_ENV": '{"CALLHOOK_PROBE": "set for every function"}'})
    # Then each one's workflow ran against its own endpoint, with the variables CALLHOOK_FUNCTION_ENV gives every
    # function, and each stopped without a traceback (its background invocations drained, its threads ended)
    lines = [line for line in result.stdout.splitlines() if line.startswith("callhook-seq-")]
    assert lines == ["callhook-seq-a SUCCEEDED", "callhook-seq-a CALLHOOK_PROBE set for every function",
                     "callhook-seq-b SUCCEEDED", "callhook-seq-b CALLHOOK_PROBE set for every function"], \
        result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "Exception in thread" not in result.stderr, result.stderr[-3000:]


def test_function_env_is_a_json_object_of_variables() -> None:
    from callhook_local.stack import function_env_from

    assert function_env_from("") == {}
    assert function_env_from('{"A": 1, "B": "two"}') == {"A": "1", "B": "two"}
    for bad in ("A=1", "[1]"):
        with pytest.raises(ValueError, match="CALLHOOK_FUNCTION_ENV is not a JSON object of variables"):
            function_env_from(bad)
