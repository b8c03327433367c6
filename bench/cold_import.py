"""Cold import of each function's module vs the floor `import boto3; from aws_lambda_powertools import Logger`
(issue 13, performance).

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
bytecode removed from the cache): a layer that `sam build` ships without bytecode is compiled at each cold start.
Run: `make bench` or `.venv/bin/python -m bench.cold_import [rounds [rounds_of_the_other_functions]]`.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import machine, write_result
from callhook_local.template import load_template

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


def _environment(tracing: bool, pycache: str, *, write: bool = False) -> dict[str, str]:
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
    return env


def _once(statement: str, pycache: str, tracing: bool = False, *, write: bool = False) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", PROBE, statement], cwd=ROOT, capture_output=True, text=True,
                         check=True, env=_environment(tracing, pycache, write=write))
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _bytecode_caches(statements: list[str], root: str) -> tuple[str, str]:
    """A cache with the bytecode of everything the statements import, and a copy without callhook's and the
    functions' (the prefix mirrors each source's absolute path)."""
    cached = os.path.join(root, "cached")
    for statement in statements:
        _once(statement, cached, write=True)
    _once(INGEST, cached, tracing=True, write=True)  # the X-Ray SDK's too
    compiled = os.path.join(root, "ours-compiled")
    shutil.copytree(cached, compiled)
    for ours in (ROOT / "layers", ROOT / "functions"):
        shutil.rmtree(os.path.join(compiled, *ours.parts[1:]), ignore_errors=True)
    return cached, compiled


def main(rounds: int = ROUNDS, other_rounds: int = OTHER_ROUNDS) -> int:
    functions = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
    ingest = INGEST
    statements = [FLOOR, *(f"import functions.{name}.app" for name in functions)]
    root = tempfile.mkdtemp(prefix="callhook-bench-pyc-")
    try:
        cached, compiled = _bytecode_caches(statements, root)
        targets: dict[str, tuple[str, bool, str]] = {"floor": (FLOOR, False, cached), "ingest": (ingest, False, cached)}
        extra: dict[str, tuple[str, bool, str]] = {"ingest, tracing on": (ingest, True, cached),
                                                   "ingest, callhook compiled at import": (ingest, False, compiled)}
        extra |= {name: (f"import functions.{name}.app", False, cached) for name in functions if name != "ingest"}
        times: dict[str, list[float]] = {name: [] for name in targets | extra}
        loaded: dict[str, dict[str, object]] = {}
        for r in range(rounds):
            chosen = targets | (extra if r < other_rounds else {})
            for name, (statement, tracing, cache) in chosen.items():
                result = _once(statement, cache, tracing)
                times[name].append(float(result["s"]))  # type: ignore[arg-type]
                loaded[name] = result
            print(f"round {r + 1}/{rounds}: " + ", ".join(f"{n} {times[n][-1] * 1000:.0f}" for n in chosen),
                  flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    floor = statistics.median(times["floor"])
    ratio = statistics.median(times["ingest"]) / floor
    # The same pairs, each ingest import over the floor import next to it: steadier when the load swings.
    paired = statistics.median(i / f for i, f in zip(times["ingest"], times["floor"], strict=True))
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
(a layer shipped without bytecode compiles callhook's modules at each cold start).

| import | n | p50 ms | / floor p50 | X-Ray SDK loaded | OpenAPI models loaded |
|---|---|---|---|---|---|
| floor: `{FLOOR}` | {len(times['floor'])} | {floor * 1000:.0f} | 1.00x | - | - |
{chr(10).join(rows)}

**Ingest cold import / floor at p50: {ratio:.2f}x** (target <= {TARGET}x: {'met' if ratio <= TARGET else 'NOT met'});
median of the {len(times['ingest'])} round-by-round ratios {paired:.2f}x.
""")
    return 0


if __name__ == "__main__":
    sys.exit(main(*(int(a) for a in sys.argv[1:3])))
