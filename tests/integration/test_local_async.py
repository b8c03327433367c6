"""The asynchronous invoke on the local stack (InvocationType=Event), as Lambda runs it: the caller's IAM is checked
and the invoke answers 202 with an empty payload at once; the event is queued and runs in a sandbox of the function
in the background; a function error or timeout is retried twice (or as `put-function-event-invoke-config` says),
with delays (short locally), then goes to the function's dead-letter queue and on-failure destination."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from callhook_local import iam
from callhook_local.fake_pbx import FakePBX
from callhook_local.faults import lambda_fails
from callhook_local.invoker import AsyncInvokes
from callhook_local.sandbox import Outcome
from callhook_local.stack import LocalStack
from tests.integration.test_local_sandboxes import probe  # noqa: F401  (the fixture)
from tests.support.stack import StackClient, unique

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"


def event_invoke(stack: LocalStack, name: str, event: dict[str, Any]) -> tuple[dict[str, Any], float]:
    began = time.monotonic()
    resp = stack.client("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event).encode())
    return resp, time.monotonic() - began


def wait_for(predicate: Callable[[], Any], timeout: float = 20, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"still not {what or predicate} after {timeout}s"
        time.sleep(0.05)
    return value


def test_an_event_invoke_answers_202_at_once_and_runs_in_the_background(
        local_stack: LocalStack, probe: Callable[..., str]) -> None:  # noqa: F811
    name = probe()
    pool = local_stack.sandboxes.pool(name)  # type: ignore[union-attr]
    # When a function that takes 2 s is invoked asynchronously
    resp, took = event_invoke(local_stack, name, {"op": "sleep", "seconds": 2})
    # Then Lambda has accepted it at once: 202, no payload, no function error
    assert took < 1.0
    assert resp["StatusCode"] == 202
    assert resp["Payload"].read() == b""
    assert "FunctionError" not in resp
    # And it runs in a sandbox of the function afterwards
    wait_for(lambda: pool.invocations == 1, what="invoked once")


def test_a_webhook_answers_while_a_slow_recording_copy_goes_on(stack: StackClient, pbx: FakePBX) -> None:
    # Given a recording host that takes 3 s to answer
    name = unique("rec") + ".wav"
    pbx.add_recording(name, (AUDIO / "call-16k.wav").read_bytes(), "audio/wav")
    pbx.set_behaviour(f"recordings/{name}", delay_s=3.0)
    channel = stack.channel(allow_private_network=True, advanced_config={
        "field_mapping": {"call_id": "id", "recording_url": "recording", "status": "status"}})
    # When a call with that recording arrives
    began = time.monotonic()
    resp = stack.post(channel, json_body={"id": unique("call"), "recording": f"{pbx.url}/recordings/{name}"})
    took = time.monotonic() - began
    # Then the webhook is answered without waiting for the copy (Ingest asked for it with an Event invoke)
    assert resp.status_code == 200, resp.text
    assert took < 2.5, f"the webhook waited {took:.1f}s for the recording copy"
    dialog_id = resp.json()["dialog_id"]
    # And the copy finishes in the background
    kept = stack.wait_recording(dialog_id, "kept", timeout=30)
    assert kept.recording is not None and kept.recording.s3_key


def test_a_failing_event_is_retried_twice_then_kept_in_the_dead_letter_queue_record(
        local_stack: LocalStack, probe: Callable[..., str]) -> None:  # noqa: F811
    name = probe()
    with lambda_fails(name, times=10, message="always") as counter:
        resp, _ = event_invoke(local_stack, name, {"op": "noop"})
        assert resp["StatusCode"] == 202
        # Then Lambda's default: the attempt and two retries, no more
        wait_for(lambda: counter.hits == 3, what="three attempts")
        assert local_stack.async_invokes.wait_idle(10)  # type: ignore[union-attr]
        assert counter.hits == 3


def test_a_retry_that_succeeds_ends_the_event(local_stack: LocalStack, probe: Callable[..., str]) -> None:  # noqa: F811
    name = probe()
    pool = local_stack.sandboxes.pool(name)  # type: ignore[union-attr]
    with lambda_fails(name, times=1, message="once") as counter:
        event_invoke(local_stack, name, {"op": "noop"})
        wait_for(lambda: pool.invocations == 1, what="the retry ran in a sandbox")
        assert local_stack.async_invokes.wait_idle(10)  # type: ignore[union-attr]
    assert counter.hits == 1 and pool.invocations == 1


def test_a_timeout_is_retried_as_a_function_error(local_stack: LocalStack, probe: Callable[..., str]) -> None:  # noqa: F811
    name = probe(timeout=1)
    pool = local_stack.sandboxes.pool(name)  # type: ignore[union-attr]
    event_invoke(local_stack, name, {"op": "sleep", "seconds": 3})
    wait_for(lambda: pool.invocations == 3, timeout=30, what="three timed-out attempts")
    assert local_stack.async_invokes.wait_idle(10)  # type: ignore[union-attr]
    assert pool.invocations == 3


def test_event_invoke_config_sets_the_retries_and_the_on_failure_destination(
        local_stack: LocalStack, probe: Callable[..., str]) -> None:  # noqa: F811
    name = probe()
    sqs = local_stack.client("sqs")
    queue = sqs.create_queue(QueueName=unique("on-failure"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # Lambda sends the record with the function's role: it must be allowed to (the probe's role grants nothing else)
    role = local_stack.client("lambda").get_function_configuration(FunctionName=name)["Role"].rsplit("/", 1)[-1]
    local_stack.client("iam").put_role_policy(RoleName=role, PolicyName="on-failure", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn}]}))
    local_stack.client("lambda").put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": arn}})
    with lambda_fails(name, times=10, message="broken") as counter:
        event_invoke(local_stack, name, {"op": "noop", "n": 1})
        messages = wait_for(lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages"),
                            what="the on-failure record")
    assert counter.hits == 1
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestContext"]["functionArn"].endswith(f":function:{name}:$LATEST")
    assert record["requestPayload"] == {"op": "noop", "n": 1}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "broken"


def test_the_template_s_event_invoke_config_is_applied(local_stack: LocalStack) -> None:
    config = local_stack.client("lambda").get_function_event_invoke_config(
        FunctionName=local_stack.physical("KeepRecordingFunction"))
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (2, 21600)


def test_the_caller_s_permission_is_checked_before_the_202(local_stack: LocalStack) -> None:
    # Ingest may invoke KeepRecording, not the reconciler: AccessDenied comes back from the invoke itself
    with iam.acting_as(local_stack.roles["IngestFunctionRole"]), pytest.raises(ClientError) as denied:
        event_invoke(local_stack, local_stack.physical("ReconcileFunction"), {})
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"


def test_a_payload_that_is_not_json_is_refused_at_once(local_stack: LocalStack, probe: Callable[..., str]) -> None:  # noqa: F811
    name = probe()
    with pytest.raises(ClientError) as refused:
        local_stack.client("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=b"{not json")
    assert refused.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_stopping_drains_what_runs_and_drops_what_waits_without_a_traceback(
        caplog: pytest.LogCaptureFixture) -> None:
    # Given one event running and another one waiting for its retry
    started, release = threading.Event(), threading.Event()
    ran: list[Any] = []

    def run(fn: Any, event: Any) -> Outcome:
        ran.append(event)
        if event["n"] == 2:  # fails: its retry waits 30 s
            return Outcome(payload=json.dumps({"errorType": "E", "errorMessage": "m"}), errored=True, logs="")
        started.set()
        release.wait(5)
        return Outcome(payload="null", errored=False, logs="")

    class Fn:
        function_name, function_arn, event_invoke_config = "f", "arn:aws:lambda:us-east-1:1:function:f", []

    invokes = AsyncInvokes(run, retry_delays_s=(30.0,))
    invokes.submit(Fn(), "{}", {"n": 2})  # type: ignore[arg-type]
    wait_for(lambda: ran == [{"n": 2}] and len(invokes.threads) == 1, what="the first attempt over")
    invokes.submit(Fn(), "{}", {"n": 1})  # type: ignore[arg-type]
    assert started.wait(5)
    # When the stack stops while the first still runs
    threading.Timer(0.2, release.set).start()
    invokes.stop(drain_s=5)
    invokes.join()
    # Then the running one finished, the waiting retry was dropped and said so, and no thread is left
    assert ran == [{"n": 2}, {"n": 1}]
    assert any("dropped" in r.getMessage() for r in caplog.records)
    assert not any(t.is_alive() for t in invokes.threads)
