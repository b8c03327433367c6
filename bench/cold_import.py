"""Cold import of each function's module vs the floor `import boto3; from aws_lambda_powertools import Logger`
(performance).

Each figure is one fresh interpreter timing its own import with `time.perf_counter` (interpreter start-up excluded);
the floor and the functions alternate, round after round, so that both see the same background load. The ratio is
p50(function) / p50(floor) over the same run. Tracing is off as on the local stack and under `sam local`
(POWERTOOLS_TRACE_DISABLED); one row shows ingest with tracing on, as on Lambda with `Tracing: Active`, where the
X-Ray SDK is loaded and patches the AWS SDK at init because every invocation uses it.
The environment is the one template.yaml's Globals give every function (its literal values: POWERTOOLS_*,
PYDANTIC_DISABLE_PLUGINS).

Bytecode, the same for both sides: every import reads its bytecode from one cache of this run (PYTHONPYCACHEPREFIX,
warmed by importing each function once), as a package installed by pip reads its own. Without it the figure
depended on the tree: with PYTHONDONTWRITEBYTECODE set and no __pycache__, callhook's modules were compiled at every
import while the floor's packages had their bytecode. One row shows that case (callhook's and the functions'
bytecode removed from the cache): what a layer without bytecode cost on Lambda's read-only /opt, as `sam build`'s
python builder shipped it (its dependencies were compiled too); the layer's Makefile now ships the bytecode of all.

Cold start, import + first invocation: an import that defers work to the first request only moves it. Two more
rows time, in the same fresh interpreters and rounds, ingest's import plus its first webhook (a JSON call on a
token-authenticated channel, accepted: the channel read, the dialog's conditional PutItem, StartExecution) against
the floor's import plus the two AWS calls any ingest must make (a conditional PutItem and StartExecution), both on
fresh clients against one moto server of this process (AWS_ENDPOINT_URL). Each round's call is a new one, so every
first invocation stores a dialog.
Run: `make bench` or `.venv/bin/python -m bench.cold_import [rounds [rounds_of_the_other_functions]]`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from bench.common import machine, write_result
from callhook_local.template import load_template, resources_of_type, table_spec

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 15
OTHER_ROUNDS = 5  # every other function: fewer rounds (14 functions), interleaved with the same floor
FLOOR = "import boto3; from aws_lambda_powertools import Logger"
TARGET = 1.5
INGEST = "import functions.ingest.app"
PROBE = ("import json, sys, time\n"
         "t0 = time.perf_counter()\n"
         "exec(sys.argv[1])\n"
         "elapsed = time.perf_counter() - t0\n"
         "print(json.dumps({'s': elapsed, 'xray': 'aws_xray_sdk.core' in sys.modules,\n"
         "                  'openapi': 'aws_lambda_powertools.event_handler.openapi.models' in sys.modules}))\n")
# The first webhook of a fresh sandbox (events/ingest/json_call.json with this round's call id, in BENCH_EVENT).
INGEST_FIRST_WEBHOOK = (
    "import functions.ingest.app\n"
    "import json, os, types\n"
    "context = types.SimpleNamespace(function_name='callhook-ingest', memory_limit_in_mb=256, aws_request_id='r',\n"
    "                                invoked_function_arn='arn:aws:lambda:us-east-1:123456789012:function:ingest')\n"
    "answer = functions.ingest.app.handler(json.loads(os.environ['BENCH_EVENT']), context)\n"
    "assert answer['statusCode'] == 200 and json.loads(answer['body'])['status'] == 'accepted', answer\n")
# The floor's first request: the two AWS calls every accepted webhook makes, on fresh clients.
FLOOR_FIRST_CALLS = (
    FLOOR + "\n"
    "import json, os\n"
    "call = json.loads(json.loads(os.environ['BENCH_EVENT'])['body'])['CallSid']\n"
    "boto3.client('dynamodb').put_item(TableName=os.environ['DIALOGS_TABLE'], Item={'dialog_id': {'S': call}},\n"
    "                                  ConditionExpression='attribute_not_exists(dialog_id)')\n"
    "boto3.client('stepfunctions').start_execution(stateMachineArn=os.environ['STATE_MACHINE_ARN'], name=call,\n"
    "                                              input='{}')\n")
START_FLOOR = "floor: the import above, then a conditional PutItem and StartExecution"
START = "ingest: import, then its first webhook (JSON call, token channel, accepted)"
CHANNEL: dict[str, Any] = {"channel_id": "main", "webhook_token": "main-channel-token-0001", "advanced_config": {
    "field_mapping": {"call_id": "CallSid", "caller": "From", "callee": "To", "direction": "Direction",
                      "duration": "CallDuration", "status": "CallStatus"}}}


def _environment(tracing: bool, pycache: str, *, write: bool = False, aws: dict[str, str] | None = None
                 ) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_", "LAMBDA_", "_X_AMZN"))}
    globals_env = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    env |= {k: v for k, v in globals_env.items() if isinstance(v, str)}  # !Ref/!Sub values name resources
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    env["PYTHONPYCACHEPREFIX"] = pycache
    if write:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    if tracing:  # what Lambda sets with Tracing: Active (the daemon address is never reached by an import)
        env |= {"LAMBDA_TASK_ROOT": str(ROOT), "AWS_LAMBDA_FUNCTION_NAME": "callhook-ingest",
                "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000"}
    else:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    if aws:  # the first invocations: the moto server's endpoint, resources and this round's call
        env |= aws | {"BENCH_EVENT": _event(), "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
    return env


def _event() -> str:
    event: dict[str, Any] = json.loads((ROOT / "events" / "ingest" / "json_call.json").read_text())
    body = json.loads(event["body"])
    body["CallSid"] = f"CA-bench-{uuid.uuid4().hex}"
    event["body"] = json.dumps(body)
    return json.dumps(event)


def _once(statement: str, pycache: str, tracing: bool = False, *, write: bool = False,
          aws: dict[str, str] | None = None) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", PROBE, statement], cwd=ROOT, capture_output=True, text=True,
                         check=False, env=_environment(tracing, pycache, write=write, aws=aws))
    if out.returncode != 0:
        raise RuntimeError(f"{statement.splitlines()[0]}: {out.stderr[-3000:]}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _bytecode_caches(statements: list[str], root: str, aws: dict[str, str]) -> tuple[str, str]:
    """A cache with the bytecode of everything the statements import (the first invocations' too), and a copy
    without callhook's and the functions' (the prefix mirrors each source's absolute path)."""
    cached = os.path.join(root, "cached")
    for statement in statements:
        _once(statement, cached, write=True)
    _once(INGEST, cached, tracing=True, write=True)  # the X-Ray SDK's too
    for statement in (FLOOR_FIRST_CALLS, INGEST_FIRST_WEBHOOK):
        _once(statement, cached, write=True, aws=aws)
    compiled = os.path.join(root, "ours-compiled")
    shutil.copytree(cached, compiled)
    for ours in (ROOT / "layers", ROOT / "functions"):
        shutil.rmtree(os.path.join(compiled, *ours.parts[1:]), ignore_errors=True)
    return cached, compiled


def _moto() -> tuple[Any, dict[str, str]]:
    """A moto server with the template's tables, a state machine and the channel: what the first invocations call."""
    import boto3
    from moto.server import ThreadedMotoServer

    from bench.common import free_port

    port = free_port()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # its request lines would bury the rounds
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    aws = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    session = boto3.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1")
    ddb = session.client("dynamodb", endpoint_url=aws["AWS_ENDPOINT_URL"])
    template = load_template()
    for logical in resources_of_type(template, "AWS::DynamoDB::Table"):
        ddb.create_table(TableName=f"bench-{logical}", **table_spec(logical, template))
        aws[logical.removesuffix("Table").upper() + "_TABLE"] = f"bench-{logical}"
    aws["RECORDINGS_BUCKET"] = "bench-recordings"
    session.client("s3", endpoint_url=aws["AWS_ENDPOINT_URL"]).create_bucket(Bucket=aws["RECORDINGS_BUCKET"])
    sfn = session.client("stepfunctions", endpoint_url=aws["AWS_ENDPOINT_URL"])
    aws["STATE_MACHINE_ARN"] = sfn.create_state_machine(
        name="bench-workflow", roleArn="arn:aws:iam::123456789012:role/bench",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}))["stateMachineArn"]
    aws["KEEP_RECORDING_FUNCTION"] = "bench-keep-recording"
    # The channel as the console writes it: the contract's JSON, put as is.
    session.resource("dynamodb", endpoint_url=aws["AWS_ENDPOINT_URL"]).Table(aws["CHANNELS_TABLE"]).put_item(
        Item=CHANNEL)
    return server, aws


def main(rounds: int = ROUNDS, other_rounds: int = OTHER_ROUNDS) -> int:
    functions = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
    ingest = INGEST
    statements = [FLOOR, *(f"import functions.{name}.app" for name in functions)]
    root = tempfile.mkdtemp(prefix="callhook-bench-pyc-")
    server, aws = _moto()
    try:
        cached, compiled = _bytecode_caches(statements, root, aws)
        # name: (statement, tracing, bytecode cache, AWS resources for a first invocation)
        targets: dict[str, tuple[str, bool, str, dict[str, str] | None]] = {
            "floor": (FLOOR, False, cached, None), "ingest": (ingest, False, cached, None),
            START_FLOOR: (FLOOR_FIRST_CALLS, False, cached, aws), START: (INGEST_FIRST_WEBHOOK, False, cached, aws)}
        extra: dict[str, tuple[str, bool, str, dict[str, str] | None]] = {
            "ingest, tracing on": (ingest, True, cached, None),
            "ingest, callhook compiled at import": (ingest, False, compiled, None)}
        extra |= {name: (f"import functions.{name}.app", False, cached, None) for name in functions if name != "ingest"}
        times: dict[str, list[float]] = {name: [] for name in targets | extra}
        loaded: dict[str, dict[str, object]] = {}
        for r in range(rounds):
            chosen = targets | (extra if r < other_rounds else {})
            for name, (statement, tracing, cache, resources) in chosen.items():
                result = _once(statement, cache, tracing, aws=resources)
                times[name].append(float(result["s"]))  # type: ignore[arg-type]
                loaded[name] = result
            print(f"round {r + 1}/{rounds}: " + ", ".join(f"{n} {times[n][-1] * 1000:.0f}" for n in chosen),
                  flush=True)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    floor = statistics.median(times["floor"])
    ratio = statistics.median(times["ingest"]) / floor
    # The same pairs, each ingest import over the floor import next to it: steadier when the load swings.
    paired = statistics.median(i / f for i, f in zip(times["ingest"], times["floor"], strict=True))
    start_floor = statistics.median(times[START_FLOOR])
    start_ratio = statistics.median(times[START]) / start_floor
    start_paired = statistics.median(i / f for i, f in zip(times[START], times[START_FLOOR], strict=True))
    start_rows = "\n".join(f"| {name} | {len(times[name])} | {statistics.median(times[name]) * 1000:.0f} | "
                           f"{statistics.median(times[name]) / start_floor:.2f}x |" for name in (START_FLOOR, START))
    rows = []
    for name in ["ingest", *(name for name in extra if times[name])]:
        p50 = statistics.median(times[name])
        rows.append(f"| {name} | {len(times[name])} | {p50 * 1000:.0f} | {p50 / floor:.2f}x | "
                    f"{'yes' if loaded[name]['xray'] else 'no'} | {'yes' if loaded[name]['openapi'] else 'no'} |")
    load = os.getloadavg()
    write_result("cold_import", f"""## Cold import (bench/cold_import.py)
Machine: {machine()}, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end. Fresh interpreters,
each timing its own import (start-up excluded), the floor and the functions alternating round after round, in the
environment template.yaml's Globals give a function; tracing off as on the local stack, except the row that says
otherwise. Both sides read their bytecode from one cache of this run, except the row "callhook compiled at import"
(a layer shipped without bytecode compiles callhook's modules at each cold start, as the layer built by SAM's python
builder did: layers/common/python/Makefile now ships the .pyc of every module, tests/build checks them).

| import | n | p50 ms | / floor p50 | X-Ray SDK loaded | OpenAPI models loaded |
|---|---|---|---|---|---|
| floor: `{FLOOR}` | {len(times['floor'])} | {floor * 1000:.0f} | 1.00x | - | - |
{chr(10).join(rows)}

**Ingest cold import / floor at p50: {ratio:.2f}x** (target <= {TARGET}x: {'met' if ratio <= TARGET else 'NOT met'});
median of the {len(times['ingest'])} round-by-round ratios {paired:.2f}x.

Cold start, import + first invocation (what a deferral to the first request cannot hide), the same interpreters
and rounds, fresh clients against a moto server of the bench (network calls over loopback, so a few ms each):

| cold start | n | p50 ms | / floor p50 |
|---|---|---|---|
{start_rows}

**Ingest cold start (import + first webhook) / floor at p50: {start_ratio:.2f}x**; median of the round-by-round
ratios {start_paired:.2f}x.
""")
    return 0


if __name__ == "__main__":
    sys.exit(main(*(int(a) for a in sys.argv[1:3])))
