"""The runtime image of the local stack's sandboxes: one process that pre-imports the heavy common modules and forks
a sandbox (a worker process of one function) on request. It runs what Lambda's Python runtime runs in a sandbox.

Started by callhook_local.sandbox with `python -c` (an exec, never a fork of the stack's threaded process), it
imports only the standard library and PRELOAD, then serves one control socket: each request carries the sandbox's
end of a socketpair (SCM_RIGHTS); the image forks, the child becomes the sandbox on that socket, and the image
answers the child's pid. `W <pid>` reaps a sandbox and answers its wait status (the stack reports a crash with it).

In the sandbox (`_sandbox`): the first message is its start-up spec (the environment Lambda gives the function,
its handler and code location). The sandbox replaces its whole environment with it, forwards stdout/stderr and
every logging record that reaches the root logger to the stack, imports the function's module (that import is the
cold start's Init Duration), then answers invocations one at a time until the stack closes the socket.

SnapStart (a spec with `snapstart`): that first sandbox is the function's snapshot instead. After the import it runs
the before-snapshot hooks (snapshot_restore_py's registry, in reverse order of registration), answers `ready`, and
from then on serves the same fork protocol as the image: each new sandbox of the function is a fork of the
initialised process (its memory, as Lambda's restore resumes a microVM's), whose first message is its own part of the
environment; it runs the after-restore hooks (in order of registration), and that is its Restore Duration. Python's
own at-fork reseeding of `random` is undone in the restored sandbox: a restored microVM's generator continues the
snapshot's state, and only an after-restore hook makes it differ between sandboxes.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import random
import resource
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

# What every function imports (the layer's dependencies): imported once here, shared copy-on-write by the sandboxes.
# The function's own modules (functions.*, callhook.*) are imported in the sandbox: that is its Init Duration.
PRELOAD = ("boto3", "botocore.session", "botocore.client", "botocore.credentials", "botocore.endpoint",
           "botocore.parsers", "botocore.serialize", "boto3.dynamodb.types", "pydantic", "jmespath",
           "aws_lambda_powertools", "aws_lambda_powertools.logging", "aws_lambda_powertools.metrics",
           "aws_lambda_powertools.tracing", "requests", "urllib3")
# Not the X-Ray SDK: callhook.observability loads it on first use only, and the local stack runs with tracing off,
# so a sandbox never imports it (tests/unit/test_cold_start_imports.py); preloading it would cost every stack start.


def main(control_fd: int, path: list[str]) -> None:
    # Ctrl-C in `make run` reaches the whole process group: the stack stops the image and its sandboxes itself
    # (and they exit when its sockets close), so neither prints a KeyboardInterrupt of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.path[:] = path
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    control = socket.socket(fileno=control_fd)
    control.sendall(b"R")  # ready: the parent waits for the preload before its first fork
    serve(control, _sandbox)


def serve(control: socket.socket, child: Callable[[int], None]) -> None:
    """Answer fork (`F` + the new sandbox's socket) and reap (`W<pid>`) requests until the control socket closes.
    The image serves them with `_sandbox`; a SnapStart snapshot with its restore."""
    while True:
        try:
            message, fds, _flags, _addr = socket.recv_fds(control, 64, 1)
        except OSError:
            return
        if not message:
            os._exit(0)  # the stack is gone
        if message[:1] == b"F" and fds:
            pid = os.fork()
            if pid == 0:
                control.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                try:
                    child(fds[0])
                finally:
                    os._exit(0)
            os.close(fds[0])
            control.sendall(struct.pack("!i", pid))
        elif message[:1] == b"W":
            pid = int(message[1:].decode())
            try:
                _, status = os.waitpid(pid, 0)
            except ChildProcessError:
                status = 0
            control.sendall(struct.pack("!i", status))
        else:
            for fd in fds:
                os.close(fd)


# ---------------------------------------------------------------------------------------------- in the sandbox
class _Forward(io.TextIOBase):
    """sys.stdout / sys.stderr of a sandbox: whole lines go to the stack (as Lambda ships them to its log stream)."""

    def __init__(self, send: Any, name: str) -> None:
        self._send, self._name, self._buffer = send, name, ""

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._buffer += text
        if "\n" in self._buffer:
            lines, _, self._buffer = self._buffer.rpartition("\n")
            self._send(("out", self._name, lines + "\n"))
        return len(text)

    def flush(self) -> None:
        if self._buffer:
            text, self._buffer = self._buffer, ""
            self._send(("out", self._name, text))

    def isatty(self) -> bool:
        return False


class _Records(logging.Handler):
    """Every record reaching the sandbox's root logger goes to the stack, which hands it to its own root logger."""

    def __init__(self, send: Any) -> None:
        super().__init__(logging.NOTSET)
        self._send = send

    def addFilter(self, filter: Any) -> None:
        """Powertools' Logger filters its own records out of every root handler (against duplicates on a console);
        this one is a transport to the stack's root logger, whose handlers keep their own filters."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = dict(record.__dict__)
            data["msg"] = record.getMessage()
            data["args"] = None
            if record.exc_info:
                data["exc_text"] = logging.Formatter().formatException(record.exc_info)
            data["exc_info"] = None
            self._send(("log", {k: _plain(v) for k, v in data.items()}))
        except Exception:
            self.handleError(record)


def _plain(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


class _Context:
    """The context object of the Python runtime (what Powertools and handlers read)."""

    def __init__(self, request_id: str, deadline: float) -> None:
        env = os.environ
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = env.get("CALLHOOK_LOCAL_FUNCTION_ARN", "")
        self.memory_limit_in_mb = int(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{self.function_name}")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", _log_stream)
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(exc: BaseException, request_id: str, error_type: str | None = None,
           message: str | None = None) -> dict[str, Any]:
    return {"errorMessage": str(exc) if message is None else message, "errorType": error_type or type(exc).__name__,
            "requestId": request_id, "stackTrace": traceback.format_tb(exc.__traceback__)}


def _max_memory_mb() -> int:
    return max(1, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)


class _Link:
    """The sandbox's connection to the stack. A restored sandbox has its own, so everything that writes through
    `_send` (its stdout, stderr and logging records) goes to the invocation that caused it."""

    def __init__(self, conn: Connection) -> None:
        self.conn, self.lock = conn, threading.Lock()

    def send(self, message: Any) -> None:
        with self.lock:
            self.conn.send(message)


_link: _Link | None = None
_log_stream = ""  # the sandbox's log stream, for its context object where the environment does not name it


def _send(message: Any) -> None:
    if _link is not None:
        _link.send(message)


def _enter_cpu_share(start: dict[str, Any]) -> None:
    """Hold this sandbox to its MemorySize's CPU share (cpu_share.py) before anything of the function runs."""
    if not start.get("cpu_group"):
        return
    from pathlib import Path

    from callhook_local import cpu_share

    try:
        cpu_share.enter(Path(start["cpu_group"]), str(os.getpid()), int(start["memory_mb"]))
    except OSError as exc:
        print(f"{cpu_share.ENV}: this sandbox runs at full CPU: {exc}", file=sys.stderr)


def _run_hooks(kind: str) -> dict[str, Any] | None:
    """snapshot_restore_py's hooks of `kind` (before_snapshot: in reverse order of registration; after_restore: in
    order), as Lambda's runtime runs them; the first that raises fails the phase. A function that never imported
    the package registered none."""
    module = sys.modules.get("snapshot_restore_py")
    if module is None:
        return None
    hooks = list(module.get_before_snapshot())[::-1] if kind == "before_snapshot" else list(module.get_after_restore())
    for func, args, kwargs in hooks:
        try:
            func(*args, **kwargs)
        except Exception as exc:
            name = "BeforeSnapshotError" if kind == "before_snapshot" else "AfterRestoreError"
            return _error(exc, "", f"Runtime.{name}", f"{kind} hook {getattr(func, '__qualname__', func)}: {exc}")
    return None


def _sandbox(fd: int) -> None:
    global _link, _log_stream
    conn = Connection(fd)
    _link = _Link(conn)
    spec = conn.recv()
    _log_stream = spec.get("log_stream", "")
    os.environ.clear()
    os.environ.update(spec["env"])
    _enter_cpu_share(spec)
    if spec.get("task_root"):
        sys.path.insert(0, spec["task_root"])
    sys.stdout = _Forward(_send, "stdout")
    sys.stderr = _Forward(_send, "stderr")
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(_Records(_send))

    started = time.perf_counter()
    init_error: dict[str, Any] | None = None
    handler: Any = None
    try:
        module = importlib.import_module(spec["module"])
    except Exception as exc:
        init_error = _error(exc, "", "Runtime.ImportModuleError",
                            f"Unable to import module '{spec['module_label']}': {exc}")
    else:
        handler = getattr(module, spec["attribute"], None)
        if handler is None:
            init_error = {"errorMessage": f"Handler '{spec['attribute']}' missing on module "
                                          f"'{spec['module_label']}'", "errorType": "Runtime.HandlerNotFound",
                          "requestId": "", "stackTrace": []}
    if init_error is None and spec.get("snapstart"):
        init_error = _run_hooks("before_snapshot")
    init_ms = (time.perf_counter() - started) * 1000
    sys.stdout.flush()
    sys.stderr.flush()
    _send(("ready", init_ms, init_error))
    if init_error is not None:
        return
    if spec.get("snapstart"):
        _serve_restores(conn, handler)
    else:
        _invocations(conn, handler)


def _serve_restores(conn: Connection, handler: Any) -> None:
    """The snapshot: every new sandbox of the function is a fork of this initialised process (runtime.serve)."""
    state = random.getstate()
    control = socket.socket(fileno=os.dup(conn.fileno()))
    conn.close()

    def restored(fd: int) -> None:
        global _link, _log_stream
        conn = Connection(fd)
        _link = _Link(conn)
        start = conn.recv()
        _log_stream = start["log_stream"]
        _enter_cpu_share(start)
        # A microVM restored from a snapshot continues the snapshot's generator; fork reseeds `random` in the child
        # (os.register_at_fork), which would hide a missing after-restore hook here.
        random.setstate(state)
        error = _run_hooks("after_restore")
        sys.stdout.flush()
        sys.stderr.flush()
        # Restore Duration: from the stack's fork request (CLOCK_MONOTONIC is the machine's) to the hooks' end
        _send(("ready", (time.monotonic() - start["forked_at"]) * 1000, error))
        if error is None:
            _invocations(conn, handler)

    serve(control, restored)


def _invocations(conn: Connection, handler: Any) -> None:
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        _kind, request_id, event, timeout_s = message
        began = time.perf_counter()
        context = _Context(request_id, time.monotonic() + timeout_s)
        os.environ["_X_AMZN_REQUEST_ID"] = request_id
        try:
            result = handler(event if event is not None else {}, context)
            try:
                payload, errored = json.dumps(result), False
            except (TypeError, ValueError) as exc:
                payload, errored = json.dumps(_error(
                    exc, request_id, "Runtime.MarshalError",
                    f"Unable to marshal response: {exc}")), True
        except Exception as exc:
            payload, errored = json.dumps(_error(exc, request_id)), True
        duration_ms = (time.perf_counter() - began) * 1000
        sys.stdout.flush()
        sys.stderr.flush()
        _send(("result", errored, payload, duration_ms, _max_memory_mb()))


if __name__ == "__main__":
    main(int(sys.argv[1]), json.loads(sys.argv[2]))
