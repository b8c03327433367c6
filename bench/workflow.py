"""Webhook -> dialog in its final state (enrichment, assignment, topic; no transcription), and state transitions
per path. Median and p95 over N calls on the local stack, the Enrich step calling the fake PBX over HTTP.
Run: `make bench` or `.venv/bin/python -m bench.workflow`.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import requests

from bench.common import QUIET, free_port, machine, quiet_functions, summary_ms, write_result

N_CALLS = 200
CONCURRENCY = 4
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
POLL_S = 0.25
TARGET_MS = 500


def main() -> int:
    quiet_functions()
    from callhook.models.dialog import make_dialog_id
    from callhook_admin.services.config import put_channel
    from callhook_local.demo import seed_demo
    from callhook_local.fake_pbx import start_fake_pbx
    from callhook_local.stack import LocalStack

    stack = LocalStack(aws_port=free_port(), api_port=free_port(), name="callhook-bench-wf",
                       parameters=QUIET).start()
    pbx = start_fake_pbx()
    try:
        seed_demo(stack, pbx)
        env, sfn = stack.env, stack.client("stepfunctions")
        mapping = {"call_id": "id", "operator_email": "agent_email"}
        channels = {
            "happy path (enrichment ok)": {"webhook_enrich_action": "demo-pbx-lookup"},
            "enrichment disabled": {"webhook_enrich_action": None},
            "enrichment failed, do_not_assign": {"webhook_enrich_action": "demo-pbx-lookup",
                                                 "enrich_error_action": "do_not_assign"},
            "enrichment failed, assign_admin": {"webhook_enrich_action": "demo-pbx-lookup",
                                                "enrich_error_action": "assign_admin"},
        }
        tokens: dict[str, str] = {}
        for i, (path, extra) in enumerate(channels.items()):
            tokens[path] = uuid.uuid4().hex
            put_channel(env["CHANNELS_TABLE"], {"channel_id": f"bench-{i}", "webhook_token": tokens[path],
                                                "advanced_config": {"field_mapping": mapping}, **extra})

        def run(path: str, call_id: str) -> tuple[float, str, str]:
            channel_id = f"bench-{list(channels).index(path)}"
            t0 = time.time()
            r = requests.post(f"{stack.api_url}/webhooks/{channel_id}", json={"id": call_id},
                              headers={"X-Webhook-Token": tokens[path]}, timeout=60)
            assert r.status_code == 200, r.text
            arn = f"{stack.outputs['StateMachineArn'].replace(':stateMachine:', ':execution:')}:" \
                  f"{make_dialog_id(channel_id, call_id)}"
            # The end is the execution's own stopDate (the engine's clock is this process's): polling only learns
            # that it ended, so it can be slow and leave the CPU to the stack (at 10 ms, four pollers took a fifth).
            while (execution := sfn.describe_execution(executionArn=arn))["status"] not in TERMINAL:
                time.sleep(POLL_S)
            return execution["stopDate"].timestamp() - t0, execution["status"], arn

        # Transitions per path: one call each, counted from the execution history (states entered).
        transitions: dict[str, int] = {}
        for path in channels:
            call_id = f"count-{uuid.uuid4().hex[:8]}"
            pbx.set_call(call_id, email="ann@example.com", line="online")
            if "failed" in path:
                pbx.set_behaviour(call_id, status=400)
            _, status, arn = run(path, call_id)
            if status != "SUCCEEDED":
                from callhook.repositories.dialogs import DialogRepository

                dialog = DialogRepository(env["DIALOGS_TABLE"]).get(arn.rsplit(":", 1)[-1])
                raise SystemExit(f"{path}: execution {status}: {dialog.workflow if dialog else None}")
            history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
            transitions[path] = sum(1 for e in history if e["type"].endswith("StateEntered"))

        call_ids = [f"wf-{i}-{uuid.uuid4().hex[:6]}" for i in range(N_CALLS)]
        for call_id in call_ids:
            pbx.set_call(call_id, email="ann@example.com", line="online")
        # The timed calls come from a process of their own, as providers' webhooks and ops' reads do: in the
        # stack's process, the callers' HTTP and polling would share its interpreter lock.
        happy = "happy path (enrichment ok)"
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as caller:
            results, wall = caller.submit(
                _timed_calls, stack.api_url, stack.endpoint, f"bench-{list(channels).index(happy)}", tokens[happy],
                stack.outputs["StateMachineArn"], call_ids).result()
        failed = [arn for _, status, arn in results if status != "SUCCEEDED"]
        s = summary_ms([d for d, _, _ in results])
    finally:
        pbx.stop()
        stack.stop()
    rows = "\n".join(f"| {path} | {n} |" for path, n in transitions.items())
    load = os.getloadavg()
    write_result("workflow", f"""## Workflow (bench/workflow.py)
Machine: {machine()}, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end. Local stack;
{N_CALLS} calls at concurrency {CONCURRENCY} from a process of their own, each timed from the POST to its execution's
`stopDate` (enrichment over HTTP to the fake PBX, assignment, topic; no transcription).

| n | median ms | p95 ms | p99 ms | executions not SUCCEEDED |
|---|---|---|---|---|
| {s['n']} | {s['p50']:.0f} | {s['p95']:.0f} | {s['p99']:.0f} | {len(failed)} |

Wall time {wall:.1f} s ({N_CALLS / wall:.1f} calls/s). **Median {s['p50']:.0f} ms** (target <= {TARGET_MS} ms:
{'met' if s['p50'] <= TARGET_MS else 'NOT met'}).

State transitions per path (states entered, from `get_execution_history`; each costs money on AWS Standard):

| path | transitions |
|---|---|
{rows}
""")
    return 0


def _timed_calls(api_url: str, endpoint: str, channel_id: str, token: str, state_machine_arn: str,
                 call_ids: list[str]) -> tuple[list[tuple[float, str, str]], float]:
    """POST each call and wait for its execution's end, CONCURRENCY at a time: (seconds, status, execution ARN)
    per call, and the wall time."""
    import boto3

    from callhook.models.dialog import make_dialog_id

    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    prefix = state_machine_arn.replace(":stateMachine:", ":execution:")

    def run(call_id: str) -> tuple[float, str, str]:
        t0 = time.time()
        r = requests.post(f"{api_url}/webhooks/{channel_id}", json={"id": call_id},
                          headers={"X-Webhook-Token": token}, timeout=60)
        assert r.status_code == 200, r.text
        arn = f"{prefix}:{make_dialog_id(channel_id, call_id)}"
        while (execution := sfn.describe_execution(executionArn=arn))["status"] not in TERMINAL:
            time.sleep(POLL_S)
        return execution["stopDate"].timestamp() - t0, execution["status"], arn

    t0 = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        results = list(pool.map(run, call_ids))
    return results, time.perf_counter() - t0


if __name__ == "__main__":
    sys.exit(main())
