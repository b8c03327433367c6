"""Ingest latency vs. its floor, and webhook API throughput (issue 2).

- Ingest: the ingest function's handler on API Gateway HTTP API events, against the local AWS endpoint, p50/p99
  over N webhooks (distinct calls). Floor, measured in the same run and interleaved with it: the same conditional
  PutItem + StartExecution made bare with boto3 against the same endpoint.
- Throughput: POSTs through the local webhook API (HTTP -> Lambda invoke -> handler) at concurrency 16.
Run: `make bench` (all) or `.venv/bin/python -m bench.ingest`.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from bench.common import QUIET, free_port, machine, quiet_functions, summary_ms, write_result

N_LATENCY = 600
N_THROUGHPUT = 1000
CONCURRENCY = 16


def _event(template: dict[str, Any], call_id: str) -> dict[str, Any]:
    event = json.loads(json.dumps(template))
    body = json.loads(event["body"])
    body["CallSid"] = call_id
    event["body"] = json.dumps(body)
    return event


def main() -> int:
    quiet_functions()
    from callhook.aws import to_item
    from callhook_admin.services.config import put_channel
    from callhook_local.stack import LocalStack

    stack = LocalStack(aws_port=free_port(), api_port=free_port(), name="callhook-bench",
                       parameters=QUIET).start()
    try:
        env = stack.env
        token = uuid.uuid4().hex
        put_channel(env["CHANNELS_TABLE"], {"channel_id": "main", "webhook_token": token, "advanced_config": {
            "field_mapping": {"call_id": "CallSid", "caller": "From", "callee": "To", "direction": "Direction",
                              "duration": "CallDuration", "status": "CallStatus"}}})
        from functions.ingest import app
        from tests.unit.conftest import FakeContext, load_event

        template = load_event("ingest/json_call")
        template["headers"]["x-webhook-token"] = token
        ctx = FakeContext()
        ddb, sfn = stack.client("dynamodb"), stack.client("stepfunctions")
        sm = stack.outputs["StateMachineArn"]
        # Warm both paths (imports, connections, channel cache) before measuring.
        for i in range(20):
            app.handler(_event(template, f"warm-{i}"), ctx)
        ingest_s: list[float] = []
        floor_s: list[float] = []
        for i in range(N_LATENCY):
            event = _event(template, f"bench-{i}")
            t0 = time.perf_counter()
            resp = app.handler(event, ctx)
            ingest_s.append(time.perf_counter() - t0)
            assert resp["statusCode"] == 200, resp
            # The floor: what ingest must do at least, with an item of the same shape and size.
            item = {"dialog_id": f"floor-{i}", "channel_id": "main", "call_id": f"floor-{i}", "body": event["body"],
                    "created_at": time.time()}
            t0 = time.perf_counter()
            ddb.put_item(TableName=env["DIALOGS_TABLE"], Item=to_item(item),
                         ConditionExpression="attribute_not_exists(dialog_id)")
            sfn.start_execution(stateMachineArn=sm, name=f"floor-{i}", input=json.dumps({
                "dialog_id": f"floor-{i}", "channel_id": "main", "call_id": f"floor-{i}"}))
            floor_s.append(time.perf_counter() - t0)
        ing, flo = summary_ms(ingest_s), summary_ms(floor_s)

        url = f"{stack.api_url}/webhooks/main"

        def post(i: int) -> tuple[float, int]:
            session = _sessions.setdefault(threading_ident(), requests.Session())
            t0 = time.perf_counter()
            r = session.post(url, json={"CallSid": f"tp-{i}", "From": "+12349013030", "CallStatus": "completed"},
                             headers={"X-Webhook-Token": token}, timeout=60)
            return time.perf_counter() - t0, r.status_code

        t0 = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            results = list(pool.map(post, range(N_THROUGHPUT)))
        wall = time.perf_counter() - t0
        statuses = {s for _, s in results}
        tp = summary_ms([d for d, _ in results])
    finally:
        stack.stop()
    ratio = ing["p50"] / flo["p50"]
    write_result("ingest", f"""## Ingest (bench/ingest.py)
Machine: {machine()}. Local stack (moto {_moto_version()}), functions' log level WARNING, executions running in the
background as in production.

| measure | n | p50 ms | p99 ms | mean ms |
|---|---|---|---|---|
| ingest handler (HTTP API 2.0 event -> answer) | {ing['n']} | {ing['p50']:.2f} | {ing['p99']:.2f} | {ing['mean']:.1f} |
| floor: bare PutItem + StartExecution | {flo['n']} | {flo['p50']:.2f} | {flo['p99']:.2f} | {flo['mean']:.1f} |

**Ingest / floor at p50: {ratio:.2f}x** (target <= 1.25x).

Throughput through the local webhook API (HTTP -> Lambda invoke -> handler), {N_THROUGHPUT} POSTs at concurrency
{CONCURRENCY}: **{N_THROUGHPUT / wall:.0f} webhooks/s**, answer time p50 {tp['p50']:.1f} ms, p99 {tp['p99']:.1f} ms;
statuses {sorted(statuses)}.
""")
    return 0


_sessions: dict[int, requests.Session] = {}


def threading_ident() -> int:
    import threading

    return threading.get_ident()


def _moto_version() -> str:
    import moto

    return moto.__version__


if __name__ == "__main__":
    sys.exit(main())
