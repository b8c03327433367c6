"""Processes held to the CPU share a function's MemorySize buys on Lambda: 1,769 MB is one vCPU, 256 MB about 0.145.

Opt-in (`CALLHOOK_CPU_SHARE=1` for the local stack; the cold-start bench always asks): this machine's full CPU makes
`Init Duration` read several times shorter than Lambda's, so the cold starts providers wait for stay invisible.

Linux cgroup v1's cpu controller: each process gets a child cgroup of its own under the caller's group
(`/sys/fs/cgroup/cpu/callhook-<pid>/<name>`) with `cpu.cfs_period_us=100000` and `cpu.cfs_quota_us=share*100000`,
and enters it itself (a sandbox as it starts, a benchmark's interpreter before its `exec`), so nothing it runs is
ever unthrottled. Where the machine refuses (cgroup v2 without delegation, not root, no cpu controller) the processes
run at full speed after one warning: the figures then read as this machine's, not Lambda's.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

log = logging.getLogger("callhook.local.cpu_share")

ROOT = Path("/sys/fs/cgroup/cpu")
ENV = "CALLHOOK_CPU_SHARE"
PERIOD_US = 100_000
ONE_VCPU_MB = 1769  # Lambda: "at 1,769 MB, a function has the equivalent of one vCPU"
MIN_QUOTA_US = 1000  # the kernel refuses a quota under 1 ms


def requested(environ: dict[str, str] | None = None) -> bool:
    return (environ if environ is not None else os.environ).get(ENV, "").strip().lower() not in ("", "0", "false", "no")


def share(memory_mb: int) -> float:
    """The vCPUs `memory_mb` buys on Lambda."""
    return memory_mb / ONE_VCPU_MB


def quota_us(memory_mb: int) -> int:
    return max(MIN_QUOTA_US, round(share(memory_mb) * PERIOD_US))


def prepare(root: Path | None = None, name: str | None = None) -> Path | None:
    """The caller's parent cgroup for the processes it will hold, or None (and one warning) where it cannot be made.

    A cgroup is writable only where its quota file takes a value: an existing directory alone proves nothing (a
    read-only cgroupfs, or v2's unified tree where these files do not exist)."""
    root = root or ROOT
    group = root / (name or f"callhook-{os.getpid()}")
    try:
        group.mkdir(exist_ok=True)
        (group / "cpu.cfs_quota_us").write_text("-1")  # the parent itself is unlimited; its children are held
    except OSError as exc:
        with contextlib.suppress(OSError):
            group.rmdir()
        log.warning("%s: processes run at this machine's full CPU, not at their MemorySize's share: cgroup v1's cpu "
                    "controller at %s is not writable here (%s); it needs root and cgroup v1 (or a delegated v2 "
                    "tree, not supported)", ENV, root, exc.strerror or exc)
        return None
    return group


def enter(group: Path, name: str, memory_mb: int) -> Path:
    """Move the calling process into a cgroup of its own under `group`, held to `memory_mb`'s share. Raises OSError
    where refused (the caller warns and goes on unthrottled)."""
    own = group / name
    own.mkdir(exist_ok=True)
    (own / "cpu.cfs_period_us").write_text(str(PERIOD_US))
    (own / "cpu.cfs_quota_us").write_text(str(quota_us(memory_mb)))
    (own / "cgroup.procs").write_text(str(os.getpid()))
    return own


def remove(group: Path, name: str) -> None:
    """The cgroup of a process that has exited (and been reaped): an empty cgroup only is removable."""
    with contextlib.suppress(OSError):
        (group / name).rmdir()


def cleanup(group: Path) -> None:
    """Remove `group` and whatever children of it are empty (at the end of the stack or the bench)."""
    with contextlib.suppress(OSError):
        for child in group.iterdir():
            if child.is_dir():
                remove(group, child.name)
    with contextlib.suppress(OSError):
        group.rmdir()
