"""Sandboxes: each invocation of a function runs in a worker process of that function, as on Lambda.

- **Start-up.** A sandbox is forked from the runtime image (runtime.py: one process that has imported boto3,
  botocore, pydantic and Powertools; never a fork of the stack's own threaded process) and starts with what Lambda
  gives a sandbox: the function's own environment (template Globals merged with its `Environment`, or what
  `update-function-configuration` set since), `AWS_LAMBDA_FUNCTION_NAME`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`,
  `AWS_REGION`, `_HANDLER`, `AWS_LAMBDA_LOG_GROUP_NAME`…, and the temporary credentials of the function's role
  session as `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`: moto's IAM step (iam.py) knows the
  caller by that key, so everything the process does, its own threads included, is checked against its role.
  Two local additions: `AWS_ENDPOINT_URL` (the local endpoint) and `POWERTOOLS_TRACE_DISABLED` (no X-Ray daemon).
- **Warm and cold.** A free warm sandbox of the function is reused; when none is free a new one starts, up to
  `max_per_function`. Its first invocation is a cold start: the function's module is imported then, and the REPORT
  line Lambda writes after each invocation carries `Init Duration` on that one only. A sandbox whose function's
  configuration changed (environment, code, role, memory, timeout) is not reused. A sandbox left free for
  `idle_s` (default 5 minutes; Lambda reclaims idle environments after some minutes) is stopped, so a long
  `make run` does not keep every sandbox it ever started; the next invocation is a cold start again.
- **At the cap.** An invocation waits for a free sandbox (the cap stands for this machine's resources, not for
  Lambda's concurrency, which is 1000 per account) up to `throttle_after_s`, then fails with
  TooManyRequestsException as Lambda throttles. 30 s by default, API Gateway's longest wait for an integration:
  a shorter wait turned this machine's slowness into throttles AWS would not answer (the load bench at concurrency
  50 lost 97 calls to 429s with 10 s). Waiters are served in arrival order: a sandbox that becomes free is handed
  to the invocation that has waited longest, never to one that just arrived (with the free-for-all of a condition
  variable, a few waiters starved past the 30 s while later ones got through: the load bench's throttled Tasks).
  One exception keeps a self-triggering function from deadlocking: an invocation made *inside an AWS call of the
  same function* (a write whose stream moto delivers synchronously to the writing function, NormalizeOperator on
  the operators table) never waits, since the sandbox it would wait for is the one blocked on that call; it gets a
  new sandbox even past the cap (up to `nested_cap`).
- **Timeout and crash.** Past the function's `Timeout` the sandbox is killed and the invocation fails with
  `Sandbox.Timedout` ("RequestId: … Error: Task timed out after N.00 seconds"); a sandbox that exits mid-invocation
  fails it with `Runtime.ExitError`. Either way the next invocation gets a fresh sandbox.
- **SnapStart.** A function with `SnapStart: {ApplyOn: PublishedVersions}`, invoked through a published version
  or alias (the API invokes ingest's `live`), is initialised once per configuration: a sandbox imports its module
  and runs its before-snapshot hooks, then stays as the function's snapshot (`Snapshot`). Every new sandbox of the
  function is restored from it: forked from that initialised process, it runs the after-restore hooks, and its
  REPORT line carries `Restore Duration` (fork to hooks done) instead of `Init Duration`, which an `INIT_REPORT`
  line gives for the snapshot; no `AWS_LAMBDA_LOG_GROUP_NAME`/`_STREAM_NAME` in the environment, as on Lambda. The
  snapshot is taken at the first cold start of the configuration rather than at publish time (no publish step here).
- **CPU share.** With `CALLHOOK_CPU_SHARE=1` every sandbox is held to the CPU its MemorySize buys on Lambda
  (cpu_share.py: a cgroup of its own, MemorySize/1769 of a vCPU), so Init Duration reads as Lambda's would. Where
  the machine refuses the cgroup, one warning, and the sandboxes run at full speed.
- **Logs.** The sandbox's stdout lines (Powertools' JSON, EMF metrics, prints) and Lambda's REPORT line become
  INFO records, its stderr lines WARNING records, of the logger `callhook_local.functions.<function name>`; every
  logging record reaching the sandbox's root logger is handed to this process's root logger. Both by the invoking
  thread before the invocation returns, so pytest captures them with the test that caused them (caplog, "Captured
  log") and `make run` prints them on its console (`log_functions_to`).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import logging
import math
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from callhook_local import cpu_share

log = logging.getLogger("callhook.local.sandbox")
# What the functions write (their stdout/stderr lines and Lambda's REPORT line): one logger per function,
# `callhook_local.functions.<function name>`, INFO (stdout, REPORT) and WARNING (stderr). pytest captures the records
# per test; `make run` prints them on its console (`log_functions_to`).
FUNCTIONS = logging.getLogger("callhook_local.functions")
FUNCTIONS.setLevel(logging.INFO)


def function_logger(function_name: str) -> logging.Logger:
    return FUNCTIONS.getChild(function_name)


def log_functions_to(stream: Any) -> logging.Handler:
    """Print the functions' output on `stream` as they wrote it (the console of `make run`, as Lambda's log stream)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    FUNCTIONS.addHandler(handler)
    return handler

TAIL_BYTES = 4096  # Invoke's LogResult: the last 4 KB of the invocation's log
INIT_LIMIT_S = 10.0  # Lambda's limit on a sandbox's init phase (on-demand), apart from the function's Timeout
SNAPSHOT_INIT_LIMIT_S = 130.0  # the init phase of a SnapStart version's snapshot (at least 130 s on Lambda)


class Throttled(Exception):
    """No sandbox of the function became free in time: Lambda's TooManyRequestsException."""


@dataclass(frozen=True)
class Spec:
    """What a sandbox is started with. Sandboxes are reused only for an equal spec."""

    function_name: str
    module: str  # imported in the sandbox: functions.ingest.app, or a user zip's module
    attribute: str
    module_label: str  # how Lambda names the module in Runtime.ImportModuleError
    env: tuple[tuple[str, str], ...]
    timeout_s: float
    memory_mb: int
    task_root: str | None = None  # a user function's unpacked zip (first on sys.path, as /var/task)
    access_key: str = ""  # the role session's key: an invocation inside a call signed with it is nested
    snapstart: bool = False  # a published version of a function with SnapStart: its sandboxes are restored

    @property
    def key(self) -> str:
        return hashlib.sha256(repr(self).encode()).hexdigest()


@dataclass
class Outcome:
    payload: str
    errored: bool
    logs: str  # the invocation's log (its output and Lambda's REPORT line), for Invoke's LogResult
    pid: int = 0
    cold: bool = False


def import_path() -> list[str]:
    """This process's sys.path for the runtime image, '' (the current directory of `python -c`, a REPL) made
    absolute: the image starts elsewhere, and would not find the functions (Runtime.ImportModuleError)."""
    return [entry or os.getcwd() for entry in sys.path]


class ForkServer:
    """A process that forks sandboxes on request and reaps them (runtime.serve): the runtime image, or a SnapStart
    function's snapshot."""

    control: socket.socket
    lock: threading.Lock

    def fork(self) -> tuple[int, Connection]:
        ours, theirs = socket.socketpair()
        with self.lock:
            socket.send_fds(self.control, [b"F"], [theirs.fileno()])
            pid = struct.unpack("!i", _recv_exactly(self.control, 4))[0]
        theirs.close()
        return pid, Connection(ours.detach())

    def reap(self, pid: int) -> int:
        """Wait for the sandbox `pid` (this process is its parent) and return its wait status."""
        with self.lock:
            self.control.sendall(b"W" + str(pid).encode())
            return int(struct.unpack("!i", _recv_exactly(self.control, 4))[0])


class RuntimeImage(ForkServer):
    """The process sandboxes are forked from (runtime.py)."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        code = ("import sys, json; from callhook_local.runtime import main; "
                "main(int(sys.argv[1]), json.loads(sys.argv[2]))")
        path = import_path()
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "HOME", "TZ", "TMPDIR")}
        env["PYTHONPATH"] = os.pathsep.join(path)
        self.process = subprocess.Popen([sys.executable, "-c", code, str(theirs.fileno()), json.dumps(path)],
                                        pass_fds=[theirs.fileno()], env=env, close_fds=True)
        theirs.close()
        self.control = ours
        self.lock = threading.Lock()
        ready = self.control.recv(1)
        if ready != b"R":
            raise RuntimeError("the sandboxes' runtime image did not start")

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.control.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise RuntimeError("the sandboxes' runtime image exited")
        data += chunk
    return data


def _start_message(spec: Spec, env: dict[str, str], cpu_group: Path | None) -> dict[str, Any]:
    return {"env": env, "module": spec.module, "attribute": spec.attribute, "module_label": spec.module_label,
            "task_root": spec.task_root, "memory_mb": spec.memory_mb,
            "cpu_group": str(cpu_group) if cpu_group else None}


def _log_stream(version: str) -> str:
    return f"{time.strftime('%Y/%m/%d')}/[{version}]{uuid.uuid4().hex}"


def _receive_until(conn: Connection, function_name: str, deadline: float, lines: list[str],
                   kind: str) -> tuple[Any, ...] | None:
    """Forward a sandbox's output and records until its `kind` message; None past the deadline."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not conn.poll(remaining):
            return None
        message = conn.recv()
        if message[0] == kind:
            return tuple(message)
        if message[0] == "out":
            _, stream, text = message
            lines.append(text)
            function_logger(function_name).log(
                logging.INFO if stream == "stdout" else logging.WARNING, "%s", text.rstrip("\n"),
                extra={"stream": stream})
        elif message[0] == "log":
            record = logging.makeLogRecord(message[1])
            logging.getLogger().handle(record)  # what propagation to the root logger did in-process


class Snapshot(ForkServer):
    """A SnapStart function's initialised process (its module imported, its before-snapshot hooks run), from which
    each new sandbox of that configuration is restored (runtime.py). `init_error` set: the snapshot failed (its
    process is gone) and the function's sandboxes initialise as without SnapStart, meeting the same error."""

    def __init__(self, image: RuntimeImage, spec: Spec, function_arn: str, cpu_group: Path | None) -> None:
        self.image, self.spec, self.cpu_group = image, spec, cpu_group
        self.pid, conn = image.fork()
        env = dict(spec.env) | {"CALLHOOK_LOCAL_FUNCTION_ARN": function_arn}
        conn.send(_start_message(spec, env, cpu_group) | {"snapstart": True, "log_stream": _log_stream(_version(spec))})
        lines: list[str] = []
        ready = _receive_until(conn, spec.function_name, time.monotonic() + SNAPSHOT_INIT_LIMIT_S, lines, "ready")
        self.init_ms: float | None = ready[1] if ready else None
        self.init_error: dict[str, Any] | None = ready[2] if ready else {
            "errorType": "Sandbox.Timedout", "errorMessage": "the snapshot's init phase timed out"}
        self.control = socket.socket(fileno=os.dup(conn.fileno()))
        conn.close()
        self.lock = threading.Lock()
        if self.init_error is not None:
            self.stop()
        else:
            # Lambda logs the init of a SnapStart version (its hooks included) as INIT_REPORT, not in a REPORT
            function_logger(spec.function_name).info(
                "%s", f"INIT_REPORT Init Duration: {self.init_ms:.2f} ms", extra={"stream": "report"})

    def stop(self) -> None:
        """The snapshot's process (its restored sandboxes, its children, are stopped first by the caller)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.control.close()
        with contextlib.suppress(Exception):
            self.image.reap(self.pid)
        if self.cpu_group:
            cpu_share.remove(self.cpu_group, str(self.pid))


def _version(spec: Spec) -> str:
    return dict(spec.env).get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")


class Sandbox:
    """One worker process of one function: started from the runtime image (its first invocation imports the
    module: Init Duration), or restored from its function's snapshot (Restore Duration)."""

    def __init__(self, source: RuntimeImage | Snapshot, spec: Spec, function_arn: str,
                 cpu_group: Path | None = None) -> None:
        self.image: ForkServer = source  # the sandbox's parent process, which reaps it
        self.spec, self.cpu_group = spec, cpu_group
        self.restored = isinstance(source, Snapshot)
        self.forked_at = time.monotonic()
        self.pid, self.conn = source.fork()
        self.stream = _log_stream(_version(spec))
        if self.restored:  # its environment is the snapshot's (SnapStart sets no AWS_LAMBDA_LOG_STREAM_NAME)
            self.conn.send({"log_stream": self.stream, "memory_mb": spec.memory_mb, "forked_at": self.forked_at,
                            "cpu_group": str(cpu_group) if cpu_group else None})
        else:
            env = dict(spec.env) | {"AWS_LAMBDA_LOG_STREAM_NAME": self.stream,
                                    "CALLHOOK_LOCAL_FUNCTION_ARN": function_arn}
            self.conn.send(_start_message(spec, env, cpu_group))
        self.started = False  # False until the first invocation: that one is the cold start
        self.last_used = time.monotonic()  # when it last became free (idle sandboxes are reclaimed)
        self.init_ms: float | None = None
        self.init_error: dict[str, Any] | None = None
        self.alive = True

    def kill(self) -> int:
        """Stop the process (SIGKILL, as Lambda stops a sandbox) and return its wait status."""
        if not self.alive:
            return 0
        self.alive = False
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.conn.close()
        try:
            return self.image.reap(self.pid)
        finally:
            if self.cpu_group:
                cpu_share.remove(self.cpu_group, str(self.pid))

    def invoke(self, event: Any) -> Outcome:
        request_id = str(uuid.uuid4())
        began = time.monotonic()
        cold = not self.started
        self.started = True
        lines: list[str] = []
        try:
            if cold:  # the init phase has its own limit; the function's Timeout starts with the invocation
                if not self.initialise(lines):
                    return self._timed_out(request_id, lines, cold, began)
                if self.init_error is not None:
                    self.kill()
                    error = dict(self.init_error, requestId=request_id)
                    return self._finish(request_id, json.dumps(error), True, lines, began, 0, cold)
                began = time.monotonic()
            deadline = began + self.spec.timeout_s
            self.conn.send(("invoke", request_id, event, max(0.0, deadline - time.monotonic())))
            result = self._until(deadline, lines, "result")
            if result is None:
                return self._timed_out(request_id, lines, cold, began)
            _, errored, payload, duration_ms, memory_used = result
            return self._finish(request_id, payload, errored, lines, began, memory_used, cold, duration_ms)
        except (EOFError, OSError, BrokenPipeError):
            status = self.kill() if self.alive else 0
            code = os.waitstatus_to_exitcode(status) if status else 0
            reason = (f"signal: {signal.Signals(-code).name.removeprefix('SIG').lower()}" if code < 0
                      else f"exit status {code}")
            error = {"errorType": "Runtime.ExitError", "requestId": request_id, "stackTrace": [],
                     "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {reason}"}
            return self._finish(request_id, json.dumps(error), True, lines, began, 0, cold)

    def initialise(self, lines: list[str]) -> bool:
        """Wait for the init phase (the import of the function's module) or the restore (the after-restore hooks);
        False past Lambda's limit (10 s for either)."""
        ready = self._until(time.monotonic() + INIT_LIMIT_S, lines, "ready")
        if ready is None:
            return False
        _, self.init_ms, self.init_error = ready  # a restore's: from the fork (the resumption) to the hooks' end
        return True

    def _until(self, deadline: float, lines: list[str], kind: str) -> tuple[Any, ...] | None:
        return _receive_until(self.conn, self.spec.function_name, deadline, lines, kind)

    def _timed_out(self, request_id: str, lines: list[str], cold: bool, began: float) -> Outcome:
        self.kill()
        seconds = f"{self.spec.timeout_s:.2f}"
        error = {"errorType": "Sandbox.Timedout", "requestId": request_id, "stackTrace": [],
                 "errorMessage": f"RequestId: {request_id} Error: Task timed out after {seconds} seconds"}
        return self._finish(request_id, json.dumps(error), True, lines, began, 0, cold)

    def _finish(self, request_id: str, payload: str, errored: bool, lines: list[str], began: float,
                memory_used: int, cold: bool, duration_ms: float | None = None) -> Outcome:
        duration = duration_ms if duration_ms is not None else (time.monotonic() - began) * 1000
        report = (f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
                  f"Billed Duration: {math.ceil(duration)} ms\tMemory Size: {self.spec.memory_mb} MB\t"
                  f"Max Memory Used: {memory_used} MB")
        if cold and self.init_ms is not None and self.restored:
            report += (f"\tRestore Duration: {self.init_ms:.2f} ms"
                       f"\tBilled Restore Duration: {math.ceil(self.init_ms)} ms")
        elif cold and self.init_ms is not None:
            report += f"\tInit Duration: {self.init_ms:.2f} ms"
        if errored and json.loads(payload).get("errorType") in ("Sandbox.Timedout", "Runtime.ExitError"):
            report += "\tStatus: error\tError Type: " + json.loads(payload)["errorType"]
        function_logger(self.spec.function_name).info("%s", report, extra={"stream": "report"})
        logs = "".join(lines) + report + "\n"
        return Outcome(payload=payload, errored=errored, logs=logs[-TAIL_BYTES:], pid=self.pid, cold=cold)


@dataclass
class Pool:
    """The sandboxes of one function."""

    function_name: str
    free: list[Sandbox] = field(default_factory=list)
    running: set[Sandbox] = field(default_factory=set)  # every live sandbox, free or busy
    busy: int = 0
    invocations: int = 0
    started: int = 0
    reclaimed: int = 0  # idle sandboxes stopped
    cond: threading.Condition = field(default_factory=threading.Condition)
    waiters: collections.deque[Waiter] = field(default_factory=collections.deque)  # at the cap, oldest first


@dataclass(eq=False)
class Waiter:
    """An invocation waiting at the cap. Whoever frees a slot hands it over, with the warm sandbox that ended its
    invocation, or with none (that one died, or never started: the waiter starts a new one); either way the pool's
    `busy` count already includes the waiter."""

    event: threading.Event = field(default_factory=threading.Event)
    sandbox: Sandbox | None = None


class Sandboxes:
    """Every function's pool, over one runtime image. One per local stack."""

    def __init__(self, max_per_function: int = 10, throttle_after_s: float = 30.0, idle_s: float = 300.0,
                 cpu_share_held: bool | None = None) -> None:
        """`cpu_share_held`: hold each sandbox to its MemorySize's CPU share (None: as CALLHOOK_CPU_SHARE says)."""
        self.max_per_function = max_per_function
        self.nested_cap = 3 * max_per_function
        self.throttle_after_s = throttle_after_s
        self.idle_s = idle_s
        self.pools: dict[str, Pool] = {}
        self._lock = threading.Lock()
        self._image: RuntimeImage | None = None
        held = cpu_share.requested() if cpu_share_held is None else cpu_share_held
        self.cpu_group = cpu_share.prepare() if held else None
        self.snapshots: dict[str, Snapshot] = {}  # Spec.key -> the SnapStart snapshot of that configuration
        self._snapshot_locks: dict[str, threading.Lock] = {}
        self._stopped = False
        self._wake = threading.Event()
        self._reaper = threading.Thread(target=self._reclaim_idle_ones, name="callhook-sandbox-reaper", daemon=True)
        self._reaper.start()

    def set_idle(self, seconds: float) -> None:
        """Reclaim a sandbox once it has been free for `seconds` (from now on)."""
        self.idle_s = seconds
        self._wake.set()

    def _reclaim_idle_ones(self) -> None:
        while not self._stopped:
            self._wake.wait(min(30.0, max(0.05, self.idle_s / 4)))
            self._wake.clear()
            if not self._stopped:
                try:
                    self.reclaim_idle()
                except Exception:
                    log.exception("reclaiming idle sandboxes failed")

    def reclaim_idle(self) -> int:
        """Stop the sandboxes free for `idle_s` or longer, as Lambda reclaims idle execution environments (after
        some minutes); the function's next invocation then starts cold. Returns how many were stopped."""
        cutoff = time.monotonic() - self.idle_s
        idle: list[Sandbox] = []
        for pool in list(self.pools.values()):
            with pool.cond:
                old = [sandbox for sandbox in pool.free if sandbox.last_used <= cutoff]
                if old:
                    pool.free = [sandbox for sandbox in pool.free if sandbox.last_used > cutoff]
                    pool.running.difference_update(old)
                    pool.reclaimed += len(old)
            idle += old
        for sandbox in idle:
            with contextlib.suppress(Exception):
                sandbox.kill()
        if idle:
            log.debug("reclaimed %d idle sandboxes", len(idle))
        return len(idle)

    @property
    def image(self) -> RuntimeImage:
        with self._lock:
            if self._image is None:
                self._image = RuntimeImage()
            return self._image

    def source(self, spec: Spec, function_arn: str) -> RuntimeImage | Snapshot:
        """Where a new sandbox of `spec` comes from: its snapshot (taken now if this configuration has none yet)
        for a SnapStart version, else the runtime image."""
        if not spec.snapstart:
            return self.image
        with self._lock:
            lock = self._snapshot_locks.setdefault(spec.key, threading.Lock())
        with lock:  # concurrent cold starts of a new configuration wait for one snapshot
            snapshot = self.snapshots.get(spec.key)
            if snapshot is None:
                snapshot = Snapshot(self.image, spec, function_arn, self.cpu_group)
                if snapshot.init_error is not None:  # its sandboxes initialise normally and report the error
                    log.warning("%s: the SnapStart snapshot failed: %s", spec.function_name,
                                snapshot.init_error.get("errorMessage"))
                    return self.image
                self.snapshots[spec.key] = snapshot
            return snapshot

    def pool(self, function_name: str) -> Pool:
        with self._lock:
            return self.pools.setdefault(function_name, Pool(function_name))

    def invoke(self, spec: Spec, function_arn: str, event: Any, nested: bool = False) -> Outcome:
        pool = self.pool(spec.function_name)
        sandbox = self._acquire(pool, spec, function_arn, nested)
        try:
            return sandbox.invoke(event)
        finally:
            with pool.cond:
                pool.invocations += 1
                keep = sandbox.alive and not self._stopped
                if keep:
                    sandbox.last_used = time.monotonic()
                else:
                    pool.running.discard(sandbox)
                if pool.waiters:  # the slot passes to the oldest waiter; `busy` is unchanged
                    waiter = pool.waiters.popleft()
                    waiter.sandbox = sandbox if keep else None
                    waiter.event.set()
                else:
                    pool.busy -= 1
                    if keep:
                        pool.free.append(sandbox)
            if not keep:
                with contextlib.suppress(Exception):
                    sandbox.kill()

    def _acquire(self, pool: Pool, spec: Spec, function_arn: str, nested: bool) -> Sandbox:
        stale: list[Sandbox] = []
        waiter: Waiter | None = None
        handed: Sandbox | None = None
        try:
            with pool.cond:
                while pool.free and not pool.waiters:
                    sandbox = pool.free.pop()  # the most recently used: warm
                    if sandbox.spec == spec and sandbox.alive:
                        pool.busy += 1
                        return sandbox
                    stale.append(sandbox)
                cap = self.nested_cap if nested else self.max_per_function
                if pool.busy < cap and (nested or not pool.waiters):
                    pool.busy += 1
                    pool.started += 1
                elif nested:
                    raise Throttled(f"{pool.function_name}: {pool.busy} sandboxes busy")
                else:
                    waiter = Waiter()
                    pool.waiters.append(waiter)
            if waiter is not None:
                handed = self._wait_for_slot(pool, waiter)
        finally:
            for sandbox in stale:  # its function's configuration changed since it started
                with pool.cond:
                    pool.running.discard(sandbox)
                sandbox.kill()
        if handed is not None and handed.spec == spec and handed.alive:
            return handed
        if waiter is not None:  # a slot without a usable sandbox: a new one starts in it
            with pool.cond:
                pool.started += 1
                if handed is not None:  # one of the function's former configuration
                    pool.running.discard(handed)
            if handed is not None:
                handed.kill()
        try:
            started = Sandbox(self.source(spec, function_arn), spec, function_arn, self.cpu_group)
            with pool.cond:
                pool.running.add(started)
            return started
        except Exception:
            self._release_slot(pool)
            raise

    def _wait_for_slot(self, pool: Pool, waiter: Waiter) -> Sandbox | None:
        """Wait in line for a slot; the warm sandbox handed over, or None: start a new one. Throttled past
        `throttle_after_s` (a slot handed over at that very moment is taken, not lost)."""
        if not waiter.event.wait(self.throttle_after_s):
            with pool.cond:
                if not waiter.event.is_set():
                    pool.waiters.remove(waiter)
                    raise Throttled(f"{pool.function_name}: {pool.busy} sandboxes busy")
        return waiter.sandbox

    def _release_slot(self, pool: Pool) -> None:
        """A slot taken for a sandbox that could not start: to the oldest waiter, else back to the pool."""
        with pool.cond:
            if pool.waiters:
                waiter = pool.waiters.popleft()
                waiter.event.set()
            else:
                pool.busy -= 1

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        self._reaper.join(timeout=5)
        for pool in list(self.pools.values()):
            with pool.cond:  # busy ones too: an invocation still running when the stack stops is cut short
                sandboxes, pool.free, pool.running = list(pool.running), [], set()
            for sandbox in sandboxes:
                with contextlib.suppress(Exception):
                    sandbox.kill()
        for snapshot in list(self.snapshots.values()):  # after their restored sandboxes, which they reap
            snapshot.stop()
        self.snapshots.clear()
        if self._image is not None:
            self._image.stop()
        if self.cpu_group is not None:
            cpu_share.cleanup(self.cpu_group)


def lambda_environment(*, function_name: str, function_arn: str, handler: str, runtime: str, memory_mb: int,
                       region: str, endpoint: str, variables: dict[str, str], access_key: str, secret_key: str,
                       token: str, task_root: str, version: str = "$LATEST", snapstart: bool = False
                       ) -> dict[str, str]:
    """The environment of a sandbox: the function's variables, then what Lambda sets (its reserved keys win)."""
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "LANG": "en_US.UTF-8", "TZ": ":UTC",
           "POWERTOOLS_TRACE_DISABLED": "true"}  # local: no X-Ray daemon to send segments to
    env |= {k: str(v) for k, v in variables.items()}
    env |= {
        "AWS_ENDPOINT_URL": endpoint,  # local: the functions reach AWS at the local stack's endpoint
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}", "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb), "AWS_LAMBDA_FUNCTION_VERSION": version,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start" if snapstart else "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",  # not with SnapStart (below)
        "AWS_REGION": region, "AWS_DEFAULT_REGION": region, "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": task_root, "LAMBDA_RUNTIME_DIR": str(Path(sys.executable).parent.parent),
        "AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key, "AWS_SESSION_TOKEN": token,
    }
    if not token:
        env.pop("AWS_SESSION_TOKEN")
    if snapstart:  # "not available in Lambda SnapStart functions" (the context object still names both)
        env.pop("AWS_LAMBDA_LOG_GROUP_NAME")
    return env
