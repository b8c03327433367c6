"""SnapStart on the local stack (local/callhook_local/sandbox.py, runtime.py): a SnapStart version is initialised
once, its before-snapshot hooks run once, and each new sandbox is restored from that initialised process with its
after-restore hooks run; REPORT gives Restore Duration instead of Init Duration. Real processes, forked as the stack
forks them; the probe function is tests/support/snapstart_probe/app.py.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from callhook_local.sandbox import Sandbox, Sandboxes, Snapshot, Spec, lambda_environment
from tests.support.stack import StackClient, unique

ARN = "arn:aws:lambda:us-east-1:123456789012:function:snapstart-probe:1"


def _spec(snapstart: bool = True, **variables: str) -> Spec:
    env = lambda_environment(function_name="snapstart-probe", function_arn=ARN, handler="app.handler",
                             runtime="python3.13", memory_mb=256, region="us-east-1", endpoint="http://127.0.0.1:1",
                             variables=variables, access_key="local", secret_key="local", token="",
                             task_root=os.getcwd(), version="1" if snapstart else "$LATEST", snapstart=snapstart)
    return Spec(function_name="snapstart-probe", module="tests.support.snapstart_probe.app", attribute="handler",
                module_label="app", env=tuple(sorted(env.items())), timeout_s=10, memory_mb=256, snapstart=snapstart)


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    pool = Sandboxes(max_per_function=4, cpu_share_held=False)
    yield pool
    pool.stop()


def _restored(sandboxes: Sandboxes, spec: Spec, n: int) -> list[dict[str, Any]]:
    """`n` sandboxes of `spec` alive at once (as n concurrent invocations have), each answering its first event."""
    source = sandboxes.source(spec, ARN)
    assert isinstance(source, Snapshot)
    started = [Sandbox(source, spec, ARN) for _ in range(n)]
    try:
        answers = []
        for sandbox in started:
            outcome = sandbox.invoke({})
            assert not outcome.errored, outcome.payload
            answers.append(json.loads(outcome.payload) | {"logs": outcome.logs})
        return answers
    finally:
        for sandbox in started:
            sandbox.kill()


def test_restored_sandboxes_share_the_init_and_the_after_restore_hook_makes_its_value_again(
        sandboxes: Sandboxes) -> None:
    # When two sandboxes of a SnapStart version start
    first, second = _restored(sandboxes, _spec(), 2)
    # Then the function was initialised once, in another process (the snapshot), and the before-snapshot hook ran there
    assert first["init_pid"] == second["init_pid"] != first["pid"] != second["pid"]
    assert first["before_snapshot"] == second["before_snapshot"] == 1
    # And each restored sandbox ran the after-restore hook once: the token made at init was made again, differently
    assert first["after_restore"] == second["after_restore"] == 1
    assert first["init_token"] == second["init_token"]
    assert len({first["init_token"], first["token"], second["token"]}) == 3
    assert first["draw"] != second["draw"]
    assert first["initialization_type"] == "snap-start"
    # And, as on Lambda, no AWS_LAMBDA_LOG_* variables; the context still names each sandbox's own log stream
    assert first["log_names_in_env"] == second["log_names_in_env"] == []
    assert first["log_stream"] != second["log_stream"] and first["log_stream"].startswith(time.strftime("%Y/%m/%d"))
    # And REPORT says Restore Duration, never Init Duration
    for answer in (first, second):
        report = answer["logs"].splitlines()[-1]
        assert "\tRestore Duration: " in report and "Billed Restore Duration" in report
        assert 0 < float(report.split("\tRestore Duration: ")[1].split(" ms")[0]) < 10_000
        assert "Init Duration" not in report


def test_without_an_after_restore_hook_restored_sandboxes_continue_the_snapshot_s_randomness(
        sandboxes: Sandboxes) -> None:
    # (What the hook is for: a restored microVM's generator is the snapshot's, and fork's own reseeding is undone.)
    first, second = _restored(sandboxes, _spec(PROBE_NO_AFTER_RESTORE="1"), 2)
    assert first["after_restore"] == second["after_restore"] == 0
    assert first["token"] == second["token"] == first["init_token"]
    assert first["draw"] == second["draw"]


def test_a_new_configuration_gets_a_snapshot_of_its_own(sandboxes: Sandboxes) -> None:
    (before,) = _restored(sandboxes, _spec(), 1)
    (after,) = _restored(sandboxes, _spec(SOMETHING="changed"), 1)
    assert before["init_pid"] != after["init_pid"]
    assert len(sandboxes.snapshots) == 2


def test_the_latest_version_is_initialised_on_demand(sandboxes: Sandboxes) -> None:
    # SnapStart applies to published versions only: $LATEST of the same function starts as any other function
    spec = _spec(snapstart=False)
    assert not isinstance(sandboxes.source(spec, ARN), Snapshot)
    sandbox = Sandbox(sandboxes.source(spec, ARN), spec, ARN)
    try:
        outcome = sandbox.invoke({})
    finally:
        sandbox.kill()
    answer = json.loads(outcome.payload)
    assert answer["init_pid"] == answer["pid"] and answer["before_snapshot"] == answer["after_restore"] == 0
    assert answer["log_names_in_env"] == ["AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME"]
    assert "\tInit Duration: " in outcome.logs and "Restore Duration" not in outcome.logs


def test_the_webhook_api_invokes_ingest_s_alias_restored_from_its_snapshot(stack: StackClient,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    # Given ingest's sandboxes are gone (the next webhook is a cold start)
    assert stack.stack.sandboxes is not None
    stack.stack.sandboxes.set_idle(0)
    stack.stack.sandboxes.reclaim_idle()
    stack.stack.sandboxes.set_idle(300)
    name = stack.stack.physical("IngestFunction")
    alias = stack.stack.client("lambda").get_alias(FunctionName=name, Name="live")
    # When a provider posts a call
    with caplog.at_level(logging.INFO, logger="callhook_local.functions"):
        resp = stack.post(stack.channel(), json_body={"call_id": unique("call")})
    # Then it is accepted by the alias's version, restored from its snapshot
    assert resp.status_code == 200, resp.text
    reports = [r.getMessage() for r in caplog.records if r.name == f"callhook_local.functions.{name}"
               and r.getMessage().startswith("REPORT")]
    assert reports and "Restore Duration" in reports[-1] and "Init Duration" not in reports[-1]
    assert alias["FunctionVersion"] != "$LATEST"


def test_api_gateway_may_invoke_ingest_s_alias_only(stack: StackClient) -> None:
    # SAM grants API Gateway the alias (its integration's target), not the function's $LATEST
    import requests

    from callhook_local.api import Route, WebhookApi
    from tests.conftest import free_port

    local = stack.stack
    post = next(r for r in local.routes if r.method == "POST" and r.path == "/webhooks/{channel_id}")
    assert post.qualifier == "live"
    latest = Route(post.method, post.path, post.function_name, post.invoker)  # the same caller, unqualified
    fronts = [WebhookApi([post], local.host, free_port()), WebhookApi([latest], local.host, free_port())]
    channel = stack.channel()
    for front in fronts:
        front.start()
    try:
        answers = [requests.post(f"http://{local.host}:{front.port}/webhooks/{channel['channel_id']}",
                                 params={"token": channel["webhook_token"]}, json={"call_id": unique("call")},
                                 timeout=30).status_code for front in fronts]
    finally:
        for front in fronts:
            front.stop()
    assert answers == [200, 500]
