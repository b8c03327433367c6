"""Ingest over HTTP vs the floor of its own two AWS calls, and webhook API throughput.

- Latency: POSTs through the local webhook API (real HTTP: the front, the Lambda invoke, the handler, its
  DynamoDB and Step Functions calls) against the floor, a bare conditional PutItem of an item of the same size +
  StartExecution made with boto3 against the same endpoint. The two alternate request by request (the order
  swapped every other pair), so that both see the same background load (the executions they start run meanwhile,
  as in production). The ratio is p50(ingest) / p50(floor) over the same run.
- Throughput: POSTs through the local webhook API at concurrency 16.
Run: `make bench` (all) or `.venv/bin/python -m bench.ingest [n]`.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.common import QUIET, free_port, machine, quiet_functions, summary_ms, write_result

N_LATENCY = 600
N_THROUGHPUT = int(os.environ.get("BENCH_THROUGHPUT_N", "500"))
CONCURRENCY = 16
TARGET = 1.5
MAPPING = {"call_id": "CallSid", "caller": "From", "callee": "To", "direction": "Direction",
           "duration": "CallDuration", "status": "CallStatus"}


def _call(call_id: str) -> dict[str, str]:
    return {"CallSid": call_id, "From": "+12349013030", "To": "+12349013031", "Direction": "inbound",
            "CallDuration": "42", "CallStatus": "completed"}


def main(n: int = N_LATENCY) -> int:
    quiet_functions()
    from callhook.models.dialog import make_dialog_id
    from callhook_admin.services.config import put_channel
    from callhook_local.stack import LocalStack

    stack = LocalStack(aws_port=free_port(), api_port=free_port(), name="callhook-bench",
                       parameters=QUIET).start()
    try:
        env = stack.env
        token = uuid.uuid4().hex
        put_channel(env["CHANNELS_TABLE"], {"channel_id": "main", "webhook_token": token,
                                            "advanced_config": {"field_mapping": MAPPING}})
        url = f"{stack.api_url}/webhooks/main"
        session = requests.Session()
        ddb, sfn = stack.client("dynamodb"), stack.client("stepfunctions")
        sm = stack.outputs["StateMachineArn"]
        run = uuid.uuid4().hex[:6]

        def ingest(i: int) -> float:
            t0 = time.perf_counter()
            r = session.post(url, json=_call(f"bench-{run}-{i}"), headers={"X-Webhook-Token": token}, timeout=60)
            elapsed = time.perf_counter() - t0
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "accepted", r.text
            return elapsed

        # The floor's item: the dialog ingest stored for the first call, under a new key (same attributes, size).
        ingest(-1)
        template = ddb.get_item(TableName=env["DIALOGS_TABLE"], ConsistentRead=True, Key={
            "dialog_id": {"S": make_dialog_id("main", f"bench-{run}--1")}})["Item"]

        def floor(i: int) -> float:
            name = f"floor-{run}-{i}"
            item = {**template, "dialog_id": {"S": name}, "call_id": {"S": name}}
            t0 = time.perf_counter()
            ddb.put_item(TableName=env["DIALOGS_TABLE"], Item=item,
                         ConditionExpression="attribute_not_exists(dialog_id)")
            sfn.start_execution(stateMachineArn=sm, name=name, input=json.dumps({
                "dialog_id": name, "channel_id": "main", "call_id": name}))
            return time.perf_counter() - t0

        for i in range(20):  # warm both paths (imports, connections, the channel cache)
            ingest(1_000_000 + i)
            floor(1_000_000 + i)
        ingest_s: list[float] = []
        floor_s: list[float] = []
        pair: list[tuple[list[float], Callable[[int], float]]] = [(ingest_s, ingest), (floor_s, floor)]
        for i in range(n):
            for times, measure in (pair if i % 2 == 0 else pair[::-1]):
                times.append(measure(i))
        ing, flo = summary_ms(ingest_s), summary_ms(floor_s)

        sessions = threading.local()

        def post(i: int) -> tuple[float, int]:
            s = getattr(sessions, "s", None) or requests.Session()
            sessions.s = s
            t0 = time.perf_counter()
            r = s.post(url, json=_call(f"tp-{run}-{i}"), headers={"X-Webhook-Token": token}, timeout=60)
            return time.perf_counter() - t0, r.status_code

        t0 = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            results = list(pool.map(post, range(N_THROUGHPUT)))
        wall = time.perf_counter() - t0
        statuses = sorted({s for _, s in results})
        tp = summary_ms([d for d, _ in results])
    finally:
        stack.stop()
    ratio = ing["p50"] / flo["p50"]
    rows = [_row("ingest: POST through the local webhook API -> answer", ing),
            _row("floor: bare conditional PutItem + StartExecution", flo)]
    load = os.getloadavg()
    write_result("ingest", f"""## Ingest over HTTP (bench/ingest.py)
Machine: {machine()}, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end. Local stack
(moto {_moto_version()}), functions' log level WARNING, executions running in the background as in production.
Ingest and its floor alternate request by request, so both see the same load.

| measure | n | p50 ms | p99 ms | mean ms |
|---|---|---|---|---|
{rows[0]}
{rows[1]}

**Ingest over HTTP / floor at p50: {ratio:.2f}x** (target <= {TARGET}x: {'met' if ratio <= TARGET else 'NOT met'}).

Throughput through the local webhook API, {N_THROUGHPUT} POSTs at concurrency {CONCURRENCY}:
**{N_THROUGHPUT / wall:.0f} webhooks/s**, answer time p50 {tp['p50']:.1f} ms, p99 {tp['p99']:.1f} ms;
statuses {statuses}.
""")
    return 0


def _row(label: str, s: dict[str, float]) -> str:
    return f"| {label} | {s['n']:.0f} | {s['p50']:.2f} | {s['p99']:.2f} | {s['mean']:.1f} |"


def _moto_version() -> str:
    import moto

    return moto.__version__


if __name__ == "__main__":
    sys.exit(main(*(int(a) for a in sys.argv[1:2])))
