"""`make bench`: run every benchmark, then rebuild BENCHMARKS.md from bench/results/*.md."""

from __future__ import annotations

import importlib
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.common import RESULTS, machine

ROOT = Path(__file__).resolve().parents[1]
BENCHES = ["cold_import", "cold_start", "cold_share", "ingest", "channel_cache", "workflow", "cpu", "transcription",
           "load", "load_faults"]


def main(argv: list[str]) -> int:
    chosen = argv or BENCHES
    for name in chosen:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError:
            print(f"bench.{name}: not present, skipped")
            continue
        print(f"== bench.{name}", flush=True)
        if module.main() != 0:
            return 1
    sections = [(RESULTS / f"{n}.md").read_text() for n in BENCHES if (RESULTS / f"{n}.md").exists()]
    (ROOT / "BENCHMARKS.md").write_text(
        "# Benchmarks\n\nMade by `make bench` (bench/), not by the tests; `python -m bench NAME...` reruns some and "
        f"keeps the others' last results (each section says when it ran). Rebuilt {datetime.now(UTC):%Y-%m-%d %H:%M} "
        f"UTC on {machine()}. Targets are ratios to a floor measured in the same run, interleaved, except the "
        "workflow median and the load throughput, which are absolute and depend on what else the machine runs "
        "(each section gives its load average).\n\n" + "\n".join(sections))
    print("wrote BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
