"""CPU per webhook on the local stack: what one call costs the stack's process (moto, the IAM check, the
Step Functions engine, the webhook front: one interpreter lock) and the functions' sandboxes, against the floor of
one bare AWS request to the same endpoint, and the throughput those costs allow on this machine.

Calls and floor requests come from a process of their own (as providers' are), in alternating blocks so both see
the same conditions; each block's CPU is read from /proc for the stack's process and for its sandboxes, less what
the stack spends idle over the same time (its timers). A webhook is the workflow bench's happy path (enrichment
over HTTP to the fake PBX, assignment, topic, no transcription) and is spaced so that its execution ends before
the next call: the figures are costs, not contention.
Run: `make bench` or `.venv/bin/python -m bench.cpu`.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from bench.common import QUIET, free_port, machine, quiet_functions, write_result

ROUNDS = 6
CALLS_PER_BLOCK = 10
SPACING_S = 0.5  # an idle webhook's execution ends in ~0.15-0.3 s
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """User + system CPU of `pid`; with `reaped_children`, also that of its children it has waited for (a sandbox
    that ended: the runtime image reaps it, and its CPU moves to the image's cutime/cstime)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115 (a /proc read)
    own = int(fields[11]) + int(fields[12])
    return (own + (int(fields[13]) + int(fields[14]) if reaped_children else 0)) / TICK


def descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])  # noqa: SIM115
            except OSError:
                continue
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier and pid not in found}
        found |= frontier
    return found


def sandboxes_cpu(exclude: set[int]) -> float:
    total = 0.0
    for pid in descendants(os.getpid()) - exclude:
        try:
            total += cpu_seconds(pid, reaped_children=True)
        except OSError:
            continue
    return total


def main() -> int:
    quiet_functions()
    from moto.core.responses import BaseResponse

    from callhook_admin.services.config import put_channel
    from callhook_local.demo import seed_demo
    from callhook_local.fake_pbx import start_fake_pbx
    from callhook_local.stack import LocalStack

    operations: Counter[str] = Counter()
    dispatch = BaseResponse.call_action

    def counted(self: Any) -> Any:  # which requests a webhook makes (a counter's cost is in the figures)
        operations[f"{type(self).__name__.removesuffix('Handler').removesuffix('Response')} "
                   f"{self._get_action()}"] += 1
        return dispatch(self)

    BaseResponse.call_action = counted  # type: ignore[method-assign]
    stack = LocalStack(aws_port=free_port(), api_port=free_port(), name="callhook-bench-cpu", parameters=QUIET).start()
    pbx = start_fake_pbx()
    try:
        seed_demo(stack, pbx)
        token = uuid.uuid4().hex
        put_channel(stack.env["CHANNELS_TABLE"], {
            "channel_id": "cpu", "webhook_token": token, "webhook_enrich_action": "demo-pbx-lookup",
            "advanced_config": {"field_mapping": {"call_id": "id", "operator_email": "agent_email"}}})
        call_ids = [f"cpu-{i}-{uuid.uuid4().hex[:6]}" for i in range((ROUNDS + 1) * CALLS_PER_BLOCK)]
        for call_id in call_ids:
            pbx.set_call(call_id, email="ann@example.com", line="online")
        me = os.getpid()
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as caller:
            caller_pid = caller.submit(os.getpid).result()
            args = (f"{stack.api_url}/webhooks/cpu", token, stack.endpoint, stack.env["DIALOGS_TABLE"])
            caller.submit(_block, *args, call_ids[:CALLS_PER_BLOCK], 0).result()  # warm: sandboxes, connections
            idle_rate = _settled(me, caller_pid)
            requests_per_call: float | None = None
            webhook: list[tuple[float, float]] = []
            webhook_operations: Counter[str] = Counter()
            floor: list[float] = []
            for r in range(ROUNDS):
                block = call_ids[(r + 1) * CALLS_PER_BLOCK:(r + 2) * CALLS_PER_BLOCK]
                order = ("calls", "floor") if r % 2 == 0 else ("floor", "calls")
                for kind in order:
                    if kind == "calls":
                        before = operations.copy()
                        stack_s, boxes_s = _measured(caller.submit(_block, *args, block, 0), caller_pid, idle_rate)
                        webhook.append((stack_s / len(block), boxes_s / len(block)))
                        made = operations - before
                        webhook_operations.update(made)
                        requests_per_call = sum(made.values()) / len(block)
                    else:
                        per_call = round(requests_per_call or 20)
                        stack_s, _ = _measured(caller.submit(_block, *args, [], per_call * CALLS_PER_BLOCK),
                                               caller_pid, idle_rate)
                        floor.append(stack_s / (per_call * CALLS_PER_BLOCK))
            per_operation = {op: n / (ROUNDS * CALLS_PER_BLOCK) for op, n in webhook_operations.most_common()}
    finally:
        BaseResponse.call_action = dispatch  # type: ignore[method-assign]
        pbx.stop()
        stack.stop()
    stack_ms = statistics.median(s for s, _ in webhook) * 1000
    boxes_ms = statistics.median(b for _, b in webhook) * 1000
    floor_ms = statistics.median(floor) * 1000
    n_requests = requests_per_call or 0
    gil_bound = 1000 / stack_ms
    cores = os.cpu_count() or 1
    cpu_bound = cores * 1000 / (stack_ms + boxes_ms)
    load = os.getloadavg()
    operations_rows = "\n".join(f"| {op} | {n:.2f} |" for op, n in per_operation.items())
    write_result("cpu", f"""## CPU per webhook (bench/cpu.py)
Machine: {machine()}, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end. Local stack; the
workflow bench's happy path, one call every {SPACING_S} s from a process of their own ({ROUNDS} blocks of
{CALLS_PER_BLOCK} calls), alternating with blocks of bare `GetItem` requests from the same process (the floor: one
AWS request, {round(n_requests)} per call). CPU from /proc, less the stack's idle CPU over the same time. The fake
PBX answers the Enrich step from a thread of the stack's process: its one request per webhook is counted there.

| measure | median over blocks |
|---|---|
| the stack's process per webhook (moto, IAM check, engine, front) | {stack_ms:.1f} ms |
| the sandboxes per webhook (the six invocations) | {boxes_ms:.1f} ms |
| the stack's process per bare request (floor) | {floor_ms:.2f} ms |
| requests to the stack per webhook (the function's AWS calls and the engine's invokes) | {n_requests:.1f} |
| **the stack's process per webhook / (requests x floor)** | **{stack_ms / (n_requests * floor_ms):.2f}x** |

What these costs allow, if nothing else ran: {gil_bound:.1f} webhooks/s on the stack's one interpreter lock,
{cpu_bound:.1f} webhooks/s on {cores} cores (the load bench's target is 25.8).

Requests per webhook, by operation:

| operation | per webhook |
|---|---|
{operations_rows}
""")
    return 0


def _settled(me: int, caller_pid: int, window_s: float = 3.0, limit_s: float = 120.0) -> tuple[float, float]:
    """Wait until the warm-up's work is over (the stack and its sandboxes near idle over a window), and return
    the idle CPU rates (seconds per second) of the stack's process and of the sandboxes: its timers, the reaper."""
    deadline = time.monotonic() + limit_s
    while True:
        began, stack0, boxes0 = time.monotonic(), cpu_seconds(me), sandboxes_cpu({caller_pid})
        time.sleep(window_s)
        elapsed = time.monotonic() - began
        rates = ((cpu_seconds(me) - stack0) / elapsed, (sandboxes_cpu({caller_pid}) - boxes0) / elapsed)
        if (rates[0] < 0.02 and rates[1] < 0.01) or time.monotonic() > deadline:
            return rates


def _measured(future: Any, caller_pid: int, idle_rate: tuple[float, float]) -> tuple[float, float]:
    """CPU seconds of the stack's process and of the sandboxes while `future`'s block ran, less the idle rate."""
    began, stack0, boxes0 = time.monotonic(), cpu_seconds(os.getpid()), sandboxes_cpu({caller_pid})
    future.result()
    time.sleep(SPACING_S)  # the last execution ends
    elapsed = time.monotonic() - began
    return (cpu_seconds(os.getpid()) - stack0 - idle_rate[0] * elapsed,
            sandboxes_cpu({caller_pid}) - boxes0 - idle_rate[1] * elapsed)


def _block(url: str, token: str, endpoint: str, table: str, call_ids: list[str], bare_requests: int) -> None:
    """In the caller's process: the calls, one every SPACING_S; or `bare_requests` GetItems spread over as long."""
    import boto3
    import requests

    if call_ids:
        session = requests.Session()
        for call_id in call_ids:
            t0 = time.monotonic()
            answer = session.post(url, json={"id": call_id}, headers={"X-Webhook-Token": token}, timeout=60)
            assert answer.status_code == 200, answer.text
            time.sleep(max(0.0, SPACING_S - (time.monotonic() - t0)))
        return
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local")
    per_slot = max(1, bare_requests // CALLS_PER_BLOCK)
    for _ in range(CALLS_PER_BLOCK):
        t0 = time.monotonic()
        for _ in range(per_slot):
            dynamodb.get_item(TableName=table, Key={"dialog_id": {"S": "cpu-floor"}})
        time.sleep(max(0.0, SPACING_S - (time.monotonic() - t0)))


if __name__ == "__main__":
    sys.exit(main())
