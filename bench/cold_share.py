"""Cold start held to the CPU share each function's MemorySize buys on Lambda (1,769 MB = one vCPU): what a provider
waits for on a cold start, which this machine's full CPU hides (local/callhook_local/cpu_share.py holds each process
in a cgroup of its own, entered before `exec`; moto, outside the quota, answers the AWS calls over loopback).

- Ingest, at its MemorySize's share: process start + import + its first webhook accepted (a JSON call on a token
  channel: the channel read, the dialog's PutItem, StartExecution), against the floor at the same share in the same
  rounds, interleaved: a fresh interpreter that imports boto3 and Powertools' Logger and makes a conditional PutItem
  and StartExecution on fresh clients. Tracing on, as `Tracing: Active` deploys it (the X-Ray SDK loads and patches
  the AWS SDK at init; its segments go to a daemon address nobody listens on). Also at the other sizes of
  SIZES_MB, which is how its MemorySize was chosen.
- Ingest with SnapStart: restore + first webhook. A process is initialised once (import, before-snapshot hooks,
  not held: that is the version's publication on Lambda); each round forks it into the share and times the fork,
  the after-restore hooks and the first webhook. Lambda's restore also loads the snapshot's memory, which no fork
  shows: this is the part the function's own code decides.
- Every function at its own MemorySize's share: process start + import of its module (the init phase).

Each figure is the wall time from the process's creation to its answer line (its exit is not counted). The packages
are the layer's, not the venv's: requirements.txt installed once into a directory of their own (cached under
~/.cache/callhook-bench, by hash) with the venv's boto3 standing in for the runtime's, run by the base interpreter
without site-packages; the venv carries what the tests and SAM need (awscrt, pyOpenSSL: botocore imports both where
present, ~0.1 s at full CPU on both sides), which Lambda does not have. Bytecode comes from one cache of this run for
every side (bench/cold_import.py says why). Rounds are few by default: at 0.145 of a
CPU one cold start takes seconds.
Run: `make bench` or `.venv/bin/python -m bench.cold_share [rounds]`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from bench.cold_import import FLOOR_FIRST_CALLS, INGEST_FIRST_WEBHOOK, _environment, _event, _moto
from bench.common import machine, write_result
from callhook_local import cpu_share
from callhook_local.template import load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 5
SIZES_MB = (512, 1024, 1536, 1769)  # the sizes ingest's was chosen among (its template MemorySize is one)
TARGET_S = 1.0
TARGET_RATIO = 1.4
# What the child prints when its work is done: the parent's clock stops there (process teardown is not a cold start).
DONE = "\nimport sys, time; sys.stdout.write(f'done {time.process_time()}\\n'); sys.stdout.flush()\n"
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
# The snapshot: initialised once, then forked per round into the share (`F <cgroup name>` on stdin); the child runs
# the after-restore hooks (in order of registration, as Lambda's runtime does) and the first webhook.
SNAPSHOT = """
import json, os, sys, time, types
import functions.ingest.app as app
import snapshot_restore_py
from pathlib import Path
from callhook_local import cpu_share
for func, args, kwargs in reversed(snapshot_restore_py.get_before_snapshot()):
    func(*args, **kwargs)
group, memory = Path(sys.argv[1]), int(sys.argv[2])
sys.stdout.write('ready\\n'); sys.stdout.flush()
for line in sys.stdin:
    name, event = line.split(' ', 1)
    began = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        cpu_share.enter(group, name, memory)
        for func, args, kwargs in snapshot_restore_py.get_after_restore():
            func(*args, **kwargs)
        context = types.SimpleNamespace(function_name='callhook-ingest', memory_limit_in_mb=memory,
                                        aws_request_id='r', invoked_function_arn='arn:aws:lambda:::function:i')
        answer = app.handler(json.loads(event), context)
        assert answer['statusCode'] == 200 and json.loads(answer['body'])['status'] == 'accepted', answer
        os._exit(0)
    _, _, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - began
    cpu_share.remove(group, name)
    sys.stdout.write('BENCH ' + json.dumps([elapsed, usage.ru_utime + usage.ru_stime]) + '\\n'); sys.stdout.flush()
"""


def _memory_sizes() -> dict[str, int]:
    """Each function's module -> its MemorySize (its own, else Globals')."""
    template = load_template()
    default = int(template["Globals"]["Function"].get("MemorySize", 128))
    sizes: dict[str, int] = {}
    for res in resources_of_type(template, "AWS::Serverless::Function").values():
        props = res["Properties"]
        module = props["CodeUri"].strip("/").split("/")[-1]
        sizes[module] = int(props.get("MemorySize", default))
    return sizes


def layer_site() -> Path:
    """The layer's packages for this interpreter (the layer's own are built for arm64), installed once per
    requirements.txt; boto3 as the venv has it, unless the layer pins its own."""
    requirements = (ROOT / "layers" / "common" / "python" / "requirements.txt").read_text()
    import boto3

    extra = [] if "boto3" in requirements else [f"boto3=={boto3.__version__}"]
    key = hashlib.sha256((requirements + " ".join(extra) + sys.version).encode()).hexdigest()[:12]
    target = Path.home() / ".cache" / "callhook-bench" / f"layer-{key}"
    if not (target / ".complete").exists():
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-compile", "--target", str(target), "-r",
                        str(ROOT / "layers" / "common" / "python" / "requirements.txt"), *extra], check=True)
        (target / ".complete").write_text("")
    return target


class Sample(NamedTuple):
    wall: float  # seconds from the process's creation (the fork, for a restore) to its answer
    cpu: float  # CPU seconds it used by then: held to a share, its wall time can be no less than cpu / share


class Runner:
    def __init__(self, group: Path | None, pycache: str, aws: dict[str, str], site: Path) -> None:
        self.group, self.pycache, self.aws, self.count, self.site = group, pycache, aws, 0, site
        self.python = getattr(sys, "_base_executable", sys.executable)

    def command(self, statement: str) -> list[str]:
        return [self.python, "-S", "-c", statement]

    def env(self, *, tracing: bool, calls: bool, write: bool = False) -> dict[str, str]:
        env = _environment(tracing, self.pycache, write=write, aws=self.aws if calls else None)
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (self.site, ROOT / "layers" / "common" / "python", ROOT,
                                                             ROOT / "local"))
        if tracing:
            env["_X_AMZN_TRACE_ID"] = TRACE_HEADER
        return env

    def once(self, statement: str, memory_mb: int, *, tracing: bool, calls: bool, write: bool = False) -> Sample:
        """Seconds from the process's creation to its `done` line, held to `memory_mb`'s share, and the CPU
        seconds it had used by then."""
        self.count += 1
        name = f"run{self.count}"
        group = self.group

        def enter() -> None:
            if group is not None:
                cpu_share.enter(group, name, memory_mb)

        began = time.perf_counter()
        process = subprocess.Popen(self.command(statement + DONE), cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, preexec_fn=enter,
                                   env=self.env(tracing=tracing, calls=calls, write=write))
        assert process.stdout is not None
        output = []
        for line in process.stdout:  # the function's own log lines come first
            if line.startswith("done "):
                break
            output.append(line)
        elapsed = time.perf_counter() - began
        _, err = process.communicate()
        if group is not None:
            cpu_share.remove(group, name)
        if not line.startswith("done ") or process.returncode != 0:
            raise RuntimeError(f"{statement.splitlines()[0]}: {''.join(output)[-2000:]} {err[-3000:]}")
        return Sample(elapsed, float(line.split()[1]))


def _snapshot_rounds(runner: Runner, memory_mb: int, rounds: int) -> list[Sample]:
    if runner.group is None:
        return []
    env = runner.env(tracing=True, calls=True)
    process = subprocess.Popen([*runner.command(SNAPSHOT), str(runner.group), str(memory_mb)], cwd=ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        line = process.stdout.readline()
        while line and line.strip() != "ready":
            line = process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError("the snapshot process did not initialise")
        times = []
        for r in range(rounds):
            process.stdin.write(f"restore{r} {_event()}\n")
            process.stdin.flush()
            line = process.stdout.readline()
            while line and not line.startswith("BENCH "):  # the function's own log lines
                line = process.stdout.readline()
            times.append(Sample(*json.loads(line.removeprefix("BENCH "))))
        return times
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def main(rounds: int = ROUNDS) -> int:
    sizes = _memory_sizes()
    ingest_mb = sizes["ingest"]
    candidates = sorted({ingest_mb, *SIZES_MB})
    group = cpu_share.prepare(name=f"callhook-bench-{os.getpid()}")
    root = tempfile.mkdtemp(prefix="callhook-bench-pyc-")
    site = layer_site()
    server, aws = _moto()
    imports = {name: f"import functions.{name}.app" for name in sorted(sizes)}
    try:
        runner = Runner(group, os.path.join(root, "cached"), aws, site)
        for statement in (FLOOR_FIRST_CALLS, INGEST_FIRST_WEBHOOK):  # the bytecode cache, every side's
            for tracing in (False, True):
                runner.once(statement, 1769, tracing=tracing, calls=True, write=True)
        for statement in imports.values():
            runner.once(statement, 1769, tracing=True, calls=False, write=True)
        ingest: dict[int, list[Sample]] = {mb: [] for mb in candidates}
        floor: dict[int, list[Sample]] = {mb: [] for mb in candidates}
        for r in range(rounds):
            for mb in candidates:
                floor[mb].append(runner.once(FLOOR_FIRST_CALLS, mb, tracing=True, calls=True))
                ingest[mb].append(runner.once(INGEST_FIRST_WEBHOOK, mb, tracing=True, calls=True))
            print(f"round {r + 1}/{rounds}: " + ", ".join(
                f"{mb} MB ingest {ingest[mb][-1].wall * 1000:.0f} / floor {floor[mb][-1].wall * 1000:.0f}"
                for mb in candidates), flush=True)
        restored = _snapshot_rounds(runner, ingest_mb, rounds)
        functions: dict[str, list[Sample]] = {name: [] for name in imports}
        for _ in range(rounds):
            for name, statement in imports.items():
                functions[name].append(runner.once(statement, sizes[name], tracing=True, calls=False))
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        if group is not None:
            cpu_share.cleanup(group)
    return _write(rounds, group is not None, ingest_mb, candidates, ingest, floor, restored, functions, sizes)


def _p50(samples: list[Sample], field: str = "wall") -> float:
    return float(statistics.median(getattr(sample, field) for sample in samples))


def _ms(samples: list[Sample], field: str = "wall") -> str:
    return f"{_p50(samples, field) * 1000:.0f}" if samples else "-"


def _write(rounds: int, held: bool, ingest_mb: int, candidates: list[int], ingest: dict[int, list[Sample]],
           floor: dict[int, list[Sample]], restored: list[Sample], functions: dict[str, list[Sample]],
           sizes: dict[str, int]) -> int:
    median, floor_median = _p50(ingest[ingest_mb]), _p50(floor[ingest_mb])
    ratio = median / floor_median
    paired = statistics.median(i.wall / f.wall for i, f in zip(ingest[ingest_mb], floor[ingest_mb], strict=True))
    cpu_ratio = _p50(ingest[ingest_mb], "cpu") / _p50(floor[ingest_mb], "cpu")
    met = median <= TARGET_S and ratio <= TARGET_RATIO
    share = cpu_share.share(ingest_mb)
    rows = "\n".join(
        f"| {mb} MB{' (template)' if mb == ingest_mb else ''} | {cpu_share.share(mb):.3f} | {_ms(floor[mb])} | "
        f"{_ms(ingest[mb])} | {_p50(ingest[mb]) / _p50(floor[mb]):.2f}x | "
        f"{_p50(floor[mb], 'cpu') / cpu_share.share(mb) * 1000:.0f} | "
        f"{_p50(ingest[mb], 'cpu') / cpu_share.share(mb) * 1000:.0f} |" for mb in candidates)
    others = "\n".join(f"| {name} | {sizes[name]} | {cpu_share.share(sizes[name]):.3f} | {_ms(samples)} | "
                       f"{min(s.wall for s in samples) * 1000:.0f} | {max(s.wall for s in samples) * 1000:.0f} | "
                       f"{_p50(samples, 'cpu') / cpu_share.share(sizes[name]) * 1000:.0f} |"
                       for name, samples in functions.items())
    load = os.getloadavg()
    held_note = "" if held else ("\n**Not held**: this machine refused the cgroup (cpu_share.py), so every figure is "
                                 "at its full CPU and says nothing of Lambda's.\n")
    restore = (f"p50 {_ms(restored)} ms over {len(restored)} restores (CPU {_ms(restored, 'cpu')} ms, "
               f"{_p50(restored, 'cpu') / share * 1000:.0f} ms at the share)"
               ) if restored else "not measured (no cgroup)"
    write_result("cold_share", f"""## Cold start at the CPU share of the MemorySize (bench/cold_share.py)
Machine: {machine()}, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end. Each process held to
MemorySize/1769 of a CPU (a cgroup v1 cpu quota of its own, entered before `exec`); wall time from the process's
creation to its answer; moto on loopback outside the quota; the layer's packages (not the venv's); tracing on as
deployed (`Tracing: Active`); median of {rounds} rounds, ingest and the floor interleaved. "CPU / share" is the CPU
the process used divided by its share: the least wall time the quota allows, which is what an idle machine shows (a
busy one adds the wait for a core on top).{held_note}

Ingest: process start, import, first webhook accepted (the channel read, PutItem, StartExecution), against the floor
(process start, `import boto3; from aws_lambda_powertools import Logger`, a conditional PutItem and StartExecution on
fresh clients) at the same share:

| MemorySize | CPU share | floor p50 ms | ingest p50 ms | ingest / floor | floor CPU/share ms | ingest CPU/share ms |
|---|---|---|---|---|---|---|
{rows}

**Ingest's cold start at {ingest_mb} MB: {median * 1000:.0f} ms, {ratio:.2f}x the floor** (median of the
round-by-round ratios {paired:.2f}x; in CPU {cpu_ratio:.2f}x; target <= {TARGET_S:.1f} s and <= {TARGET_RATIO}x:
{'met' if met else 'NOT met'}).

Ingest with SnapStart, restore + first webhook at {ingest_mb} MB's share (fork of the initialised process, the
after-restore hooks, the webhook; Lambda's loading of the snapshot's memory comes on top): {restore}.

Every function's init at its own share (process start + import of its module, tracing on):

| function | MemorySize | CPU share | p50 ms | min ms | max ms | CPU / share ms |
|---|---|---|---|---|---|---|
{others}
""")
    return 0


if __name__ == "__main__":
    sys.exit(main(*(int(a) for a in sys.argv[1:2])))
