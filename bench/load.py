"""Load: N webhooks at concurrency C against the local stack, 10 % of them re-deliveries of earlier
ones, mixed JSON / form / GET. Checks: every authenticated webhook yields exactly one dialog, every dialog exactly
one execution, every execution terminal. Reports throughput, answer-time percentiles and the counts. The webhooks are
sent from a process of their own (the senders' HTTP work is not the stack's).

With `failing_share` (bench/load_faults.py), the dialog store refuses every write of that share of the
calls while they are sent (each of their PutItems fails, beyond the SDK's retries): those calls are answered 202
and spooled; the reconciler then runs, and the same counts must hold: 0 lost, 0 duplicated.
Run: `make bench` or `.venv/bin/python -m bench.load [N] [C]`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any
from unittest import mock

import requests

from bench.common import QUIET, free_port, machine, quiet_functions, summary_ms, write_result

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
TARGET_RATE = 25.8


def main(n: int = 2000, concurrency: int = 50, failing_share: float = 0.0) -> int:
    quiet_functions()
    from callhook.models.dialog import make_dialog_id
    from callhook.repositories.dialogs import DialogRepository
    from callhook_admin.services.config import put_channel
    from callhook_local.stack import LocalStack

    stack = LocalStack(aws_port=free_port(), api_port=free_port(), name="callhook-load",
                       parameters=QUIET).start()
    result_name = "load_faults" if failing_share else "load"
    try:
        token = uuid.uuid4().hex
        channel_id = "load"
        put_channel(stack.env["CHANNELS_TABLE"], {"channel_id": channel_id, "webhook_token": token,
                                                  "advanced_config": {"field_mapping": {"call_id": "id"}}})
        rng = random.Random(7)
        plan: list[tuple[str, str]] = []  # (call_id, form)
        sent: list[str] = []
        for i in range(n):
            if sent and rng.random() < 0.10:
                plan.append((rng.choice(sent), rng.choice(["json", "form", "get"])))
            else:
                call_id = f"load-{i}"
                sent.append(call_id)
                plan.append((call_id, ["json", "form", "get"][i % 3]))
        url = f"{stack.api_url}/webhooks/{channel_id}"
        failing = {make_dialog_id(channel_id, c) for c in sent if rng.random() < failing_share}
        with _dialog_store_fails_for(stack.env["DIALOGS_TABLE"], failing):
            results, timeouts, wall = send_from_another_process(url, token, plan, concurrency)
        t0 = time.perf_counter() - wall
        spooled = sum(1 for _, c, _ in results if c == 202)
        if failing:  # the store is back: the scheduled reconciler's pass, now
            lam = stack.client("lambda")
            lam.invoke(FunctionName=stack.physical("ReconcileFunction"), Payload=b'{"older_than_s": 60}')
        answers = Counter(s for _, _, s in results)
        codes = Counter(c for _, c, _ in results)
        # Wait for every execution to finish, then count.
        sfn, arn = stack.client("stepfunctions"), stack.outputs["StateMachineArn"]
        deadline = time.monotonic() + 1800
        while sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING", maxResults=1)["executions"]:
            if time.monotonic() > deadline:
                break
            time.sleep(1)
        drained = time.perf_counter() - t0
        executions: list[dict] = []
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
            executions += page["executions"]
        by_name = Counter(e["name"] for e in executions)
        statuses = Counter(e["status"] for e in executions)
        repo = DialogRepository(stack.env["DIALOGS_TABLE"])
        dialogs: list[str] = []
        start = None
        while True:
            page, start = repo.list_by_channel(channel_id, limit=500, start_key=start)
            dialogs += [d.dialog_id for d in page]
            if not start:
                break
        expected = {make_dialog_id(channel_id, c) for c in set(sent)}
        lost = expected - set(dialogs)
        duplicated_dialogs = len(dialogs) - len(set(dialogs))
        duplicated_executions = sum(v - 1 for v in by_name.values() if v > 1)
        not_terminal = sum(v for s, v in statuses.items() if s not in TERMINAL)
        failures = Counter(_failure(sfn, e["executionArn"]) for e in executions if e["status"] != "SUCCEEDED")
        s = summary_ms([d for d, _, _ in results])
    finally:
        stack.stop()
    rate, exact = n / wall, not lost and not duplicated_dialogs and not duplicated_executions
    load = os.getloadavg()
    target_line = "" if failing else (
        f"\nLoad average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end. **{rate:.1f} webhooks/s**, "
        f"{len(lost)} lost, {duplicated_dialogs + duplicated_executions} duplicated (target >= {TARGET_RATE} "
        f"webhooks/s, 2x the 12.9 of 2026-11-25, with 0 lost and 0 duplicated: "
        f"{'met' if rate >= TARGET_RATE and exact else 'NOT met'}).\n")
    fault_note = (f"\n{len(failing)} of the {len(set(sent))} calls ({failing_share:.0%}) met a dialog store refusing "
                  f"their writes: {spooled} answers were 202 spooled; the reconciler ran once afterwards.\n"
                  if failing else "")
    write_result(result_name, f"""## Load{" with a failing dialog store" if failing else ""} (bench/load.py)
Machine: {machine()}. {n} webhooks at concurrency {concurrency} through the local webhook API, sent from a
process of their own (as providers are: not sharing the stack's interpreter lock), {n - len(sent)} of them
({(n - len(sent)) / n:.0%}) re-deliveries of earlier calls, JSON / form / GET in turn. A 5xx answer is retried by
the client, as providers do.
{fault_note}
| measure | value |
|---|---|
| throughput (answers) | {n / wall:.1f} webhooks/s ({wall:.0f} s) |
| all executions terminal after | {drained:.0f} s |
| answer time p50 / p95 / p99 | {s['p50']:.0f} / {s['p95']:.0f} / {s['p99']:.0f} ms |
| HTTP statuses (0: no answer in 5 tries) | {dict(sorted(codes.items()))} |
| requests timed out after 120 s, then sent again | {len(timeouts)} |
| answers | {dict(sorted(answers.items()))} |
| distinct calls sent | {len(set(sent))} |
| dialogs stored | {len(set(dialogs))} |
| **calls lost** (sent, no dialog) | **{len(lost)}** |
| **dialogs duplicated** | **{duplicated_dialogs}** |
| executions | {len(executions)} ({dict(statuses)}) |
| **executions duplicated** (same dialog) | **{duplicated_executions}** |
| executions not terminal | {not_terminal} |
| executions not SUCCEEDED, by the error of the state that failed | {dict(failures) or "none"} |
{target_line}""")
    return 0 if not lost and not duplicated_dialogs and not duplicated_executions and not not_terminal else 1


def send_from_another_process(url: str, token: str, plan: list[tuple[str, str]],
                              concurrency: int) -> tuple[list[tuple[float, int, str]], list[str], float]:
    """Send the plan from a process of its own, as providers are: in the stack's process, the senders' own HTTP
    work (50 threads of `requests`) would share the stack's interpreter lock and be counted as the stack's slowness.
    Returns each call's (seconds, status, answer), the calls re-sent after a 120 s timeout, and the wall time."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as sender:
        return sender.submit(_send_all, url, token, plan, concurrency).result()


def _send_all(url: str, token: str, plan: list[tuple[str, str]],
              concurrency: int) -> tuple[list[tuple[float, int, str]], list[str], float]:
    local = threading.local()
    timeouts: list[str] = []  # requests the client stopped waiting for after 120 s (then sent again)

    def deliver(item: tuple[str, str]) -> tuple[float, int, str]:
        call_id, form = item
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        t0 = time.perf_counter()
        r = None
        for _attempt in range(5):  # a provider retries 5xx, and a request it gave up waiting for
            try:
                if form == "json":
                    r = session.post(url, json={"id": call_id}, headers={"X-Webhook-Token": token}, timeout=120)
                elif form == "form":
                    r = session.post(url, data={"id": call_id}, headers={"X-Webhook-Token": token}, timeout=120)
                else:
                    r = session.get(url, params={"id": call_id, "token": token}, timeout=120)
            except requests.Timeout:
                timeouts.append(call_id)
                r = None
                continue
            if r.status_code < 500:
                break
        if r is None:
            return time.perf_counter() - t0, 0, "timed out"
        return time.perf_counter() - t0, r.status_code, r.json().get("status", "?")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(deliver, plan))
    return results, timeouts, time.perf_counter() - t0


@contextlib.contextmanager
def _dialog_store_fails_for(table_name: str, dialog_ids: set[str]) -> Iterator[None]:
    """Every PutItem of these dialogs into the dialogs table is throttled (the SDK's retries included)."""
    if not dialog_ids:
        yield
        return
    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.put_item

    def put_item(self: Any, name: str, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if name == table_name and item_attrs.get("dialog_id", {}).get("S") in dialog_ids:
            raise DynamodbException("com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                                    "Throughput exceeds the current capacity (bench fault)")
        return original(self, name, item_attrs, *args, **kwargs)

    with mock.patch.object(DynamoDBBackend, "put_item", put_item):
        yield


def _failure(sfn: Any, execution_arn: str) -> str:
    """The state and error that made an execution fail, from its history (what ops would read)."""
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000, reverseOrder=True)["events"]
    for event in events:
        for key in ("taskFailedEventDetails", "taskTimedOutEventDetails"):
            if key in event:
                return f"{event['type']}: {event[key].get('error')}"
    return "unknown"


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    sys.exit(main(*args))
