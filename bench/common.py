"""What the benchmarks share: a local stack, percentiles, and a results file per bench."""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Our functions log one JSON line per step at INFO; a benchmark of thousands would be mostly log I/O. The stack's
# LogLevel parameter (template.yaml) is WARNING in the benchmarks, as `sam deploy --parameter-overrides` would set.
QUIET = {"LogLevel": "WARNING"}


def quiet_functions() -> None:
    """Before the stack starts: no EMF metrics from the functions (each sandbox gets the function's own environment,
    so this goes through the stack's documented option, CALLHOOK_FUNCTION_ENV, as a user of `make run` would set
    it); the log level is the template's LogLevel parameter (QUIET). This process's own callhook imports (the
    bench's seeding) get the same values."""
    os.environ["CALLHOOK_FUNCTION_ENV"] = json.dumps({"POWERTOOLS_METRICS_DISABLED": "true",
                                                      "POWERTOOLS_LOG_LEVEL": QUIET["LogLevel"]})
    os.environ["POWERTOOLS_LOG_LEVEL"] = QUIET["LogLevel"]
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "callhook")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Callhook")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary_ms(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": pct(values, 50) * 1000, "p95": pct(values, 95) * 1000,
            "p99": pct(values, 99) * 1000, "mean": statistics.fmean(values) * 1000}


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_result(name: str, markdown: str) -> Path:
    """bench/results/NAME.md, stamped with the time of this run (BENCHMARKS.md gathers sections of several runs)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.md"
    markdown = markdown.rstrip() + f"\n\n_Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC._\n"
    path.write_text(markdown)
    print(markdown)
    return path
