"""Sandboxes held to their MemorySize's CPU share (local/callhook_local/cpu_share.py, CALLHOOK_CPU_SHARE=1).

This project's machines (root, cgroup v1's cpu controller at /sys/fs/cgroup/cpu) let the stack make the cgroups, so
the quota is checked in the kernel's own files and by its effect; a machine that refuses them gets one warning.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from callhook_local import cpu_share
from callhook_local.sandbox import Sandbox, Sandboxes, Spec, lambda_environment

ARN = "arn:aws:lambda:us-east-1:123456789012:function:cpu-probe:1"


def _spec(memory_mb: int, snapstart: bool) -> Spec:
    env = lambda_environment(function_name="cpu-probe", function_arn=ARN, handler="app.handler", runtime="python3.13",
                             memory_mb=memory_mb, region="us-east-1", endpoint="http://127.0.0.1:1", variables={},
                             access_key="local", secret_key="local", token="", task_root=os.getcwd(), version="1",
                             snapstart=snapstart)
    return Spec(function_name="cpu-probe", module="tests.support.snapstart_probe.app", attribute="handler",
                module_label="app", env=tuple(sorted(env.items())), timeout_s=10, memory_mb=memory_mb,
                snapstart=snapstart)


def _cpu_cgroup(pid: int) -> Path:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):
            return cpu_share.ROOT / path.lstrip("/")
    raise AssertionError(f"process {pid} is in no cpu cgroup")


@pytest.fixture
def held() -> Iterator[Sandboxes]:
    pool = Sandboxes(max_per_function=4, cpu_share_held=True)
    assert pool.cpu_group is not None, "this machine refused the cpu cgroup (cgroup v1 as root expected here)"
    yield pool
    group = pool.cpu_group
    pool.stop()
    assert not group.exists()  # the stack leaves no cgroup behind


@pytest.mark.parametrize("snapstart", [False, True], ids=["initialised", "restored"])
def test_each_sandbox_runs_in_a_cgroup_of_its_own_held_to_its_memory_s_share(held: Sandboxes,
                                                                            snapstart: bool) -> None:
    spec = _spec(256, snapstart)
    sandboxes = [Sandbox(held.source(spec, ARN), spec, ARN, held.cpu_group) for _ in range(2)]
    try:
        pids = [json.loads(sandbox.invoke({}).payload)["pid"] for sandbox in sandboxes]
        groups = [_cpu_cgroup(pid) for pid in pids]
        assert groups[0] != groups[1] and all(group.parent == held.cpu_group for group in groups)
        for pid, group in zip(pids, groups, strict=True):
            assert (group / "cpu.cfs_period_us").read_text().strip() == "100000"
            assert (group / "cpu.cfs_quota_us").read_text().strip() == str(round(256 / 1769 * 100000))  # 14472
            assert str(pid) in (group / "cgroup.procs").read_text().split()
    finally:
        for sandbox in sandboxes:
            sandbox.kill()
    assert not any(group.exists() for group in groups)  # removed with their sandboxes


def test_the_quota_holds_a_process_to_its_share() -> None:
    # A process that needs 0.1 s of CPU takes ~0.69 s at 256 MB's 0.145 of a vCPU
    group = cpu_share.prepare(name=f"callhook-test-{os.getpid()}")
    assert group is not None
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.1: pass\n"
    try:
        began = time.perf_counter()
        subprocess.run([sys.executable, "-S", "-c", burn], check=True,
                       preexec_fn=lambda: cpu_share.enter(group, "burn", 256))
        elapsed = time.perf_counter() - began
    finally:
        cpu_share.cleanup(group)
    assert elapsed > 0.45, elapsed
    assert not group.exists()


def test_a_machine_that_refuses_the_cgroup_gets_one_warning_and_unthrottled_sandboxes(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    not_a_cgroupfs = tmp_path / "cpu"
    not_a_cgroupfs.write_text("")  # cgroup v2 without delegation, or no permission: making the group fails
    monkeypatch.setattr(cpu_share, "ROOT", not_a_cgroupfs)
    with caplog.at_level(logging.WARNING, logger="callhook.local.cpu_share"):
        pool = Sandboxes(max_per_function=1, cpu_share_held=True)
    try:
        assert pool.cpu_group is None
        assert [r.getMessage() for r in caplog.records if "CALLHOOK_CPU_SHARE" in r.getMessage()]
        spec = _spec(256, False)
        sandbox = Sandbox(pool.source(spec, ARN), spec, ARN, pool.cpu_group)
        try:
            outcome = sandbox.invoke({})
        finally:
            sandbox.kill()
        assert not outcome.errored and "Init Duration" in outcome.logs
    finally:
        pool.stop()


def test_the_stack_holds_its_sandboxes_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cpu_share.ENV, raising=False)
    assert not cpu_share.requested()
    monkeypatch.setenv(cpu_share.ENV, "1")
    assert cpu_share.requested()
    monkeypatch.setenv(cpu_share.ENV, "0")
    assert not cpu_share.requested()
