"""A fake external telephony system (a PBX call-details API) for the tests and the local demo.

Standard library only, so it runs wherever the venv does. It answers ``GET /calls/{call_id}`` (``POST`` too) with
``Authorization: Bearer <key>`` like a PBX's call-details API::

    {"data": {"id": "c-1", "agent": {"email": "ann@example.com"}, "line": "online", ...}}

and serves ``GET /recordings/{name}`` from memory, without a key (like a provider's signed recording URL).

Misbehaviour is set globally or per call id (or per ``recordings/{name}``), from Python (``set_behaviour``) or over
HTTP (``POST /control``, what the demo and the CLI use): a delay, a fixed status, failing N times then succeeding, a
non-JSON body, a huge body, a redirect, a slow drip (one byte a second, after the headers or from the
status line on), and data the callhook side must cope with (an unknown email, an inactive
operator's email, an unknown topic alias).

Run it alone with ``python -m callhook_local.fake_pbx --port 8085``. It binds 127.0.0.1 by default and ``/control``
has no authentication: it is a test double, not a service.
"""

from __future__ import annotations

import argparse
import base64
import json
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

DEFAULT_API_KEY = "demo-pbx-key-0123456789"  # what local/callhook_local/demo.py stores in SSM
UNKNOWN_EMAIL = "nobody@unknown.example"
INACTIVE_EMAIL = "bob@example.com"  # inactive in the demo seed (demo.py)
UNKNOWN_TOPIC = "no-such-topic"
_HUGE_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Behaviour:
    """How the fake answers; the fields combine (e.g. a delay and a status)."""

    delay_s: float = 0.0  # wait before answering
    status: int | None = None  # answer this status with a JSON error body instead of the call
    fail_times: int = 0  # answer ``fail_status`` to this many requests, then normally
    fail_status: int = 503
    garbage: bool = False  # 200 with a body that is not JSON
    huge_bytes: int = 0  # a valid JSON answer padded past this size, sent without Content-Length
    redirect_to: str | None = None  # 302 to this URL
    email: str | None = None  # replaces the agent's email in the answer
    line: str | None = None  # replaces the line (the topic alias) in the answer
    drip_s: float = 0.0  # send the status line and headers at once, then the body one byte every drip_s seconds
    drip_headers: bool = False  # with drip_s: drip the status line and headers too


PRESETS: dict[str, dict[str, Any]] = {
    "unknown_email": {"email": UNKNOWN_EMAIL},
    "inactive_email": {"email": INACTIVE_EMAIL},
    "unknown_topic": {"line": UNKNOWN_TOPIC},
    "slow": {"delay_s": 10.0},
    "error": {"status": 503},
    "flaky": {"fail_times": 2},
    "garbage": {"garbage": True},
    "huge": {"huge_bytes": 4 * 1024 * 1024},
    "drip": {"drip_s": 1.0},
}


@dataclass(frozen=True)
class ReceivedRequest:
    """One request the fake received (``/control`` and ``/health`` are not recorded)."""

    method: str
    path: str  # as sent, still percent-encoded
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class _State:
    api_key: str | None
    default_call: dict[str, Any] | None
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    behaviours: dict[str | None, Behaviour] = field(default_factory=dict)
    failures: dict[str | None, int] = field(default_factory=dict)
    recordings: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    received: list[ReceivedRequest] = field(default_factory=list)


class FakePBX:
    """A running fake; every method is thread-safe (the server answers on its own threads)."""

    def __init__(self, server: _Server, thread: threading.Thread | None = None) -> None:
        self._server = server
        self._thread = thread

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_key(self) -> str | None:
        return self._server.state.api_key

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._server.lock:
            return list(self._server.state.received)

    def set_api_key(self, api_key: str | None) -> None:
        """The bearer key calls must carry; None accepts any request."""
        with self._server.lock:
            self._server.state.api_key = api_key

    def set_call(self, call_id: str, **data: Any) -> None:
        """Store a call: ``email`` (the agent's), ``line`` (the topic alias), anything else goes into ``data``."""
        with self._server.lock:
            self._server.state.calls[call_id] = dict(data)

    def set_default_call(self, **data: Any) -> None:
        """What unknown call ids get (same keys as ``set_call``); with no keys, unknown calls get 404."""
        with self._server.lock:
            self._server.state.default_call = dict(data) or None

    def set_behaviour(self, call_id: str | None = None, *, preset: str | None = None, **settings: Any) -> None:
        """Replace the behaviour for ``call_id`` (``recordings/NAME`` for a recording; None: every request).

        ``preset`` is one of ``PRESETS``; ``settings`` are ``Behaviour`` fields and win over the preset.
        """
        values = {**(PRESETS[preset] if preset else {}), **settings}
        unknown = set(values) - {f.name for f in fields(Behaviour)}
        if unknown:
            raise ValueError(f"unknown behaviour settings: {sorted(unknown)}")
        with self._server.lock:
            self._server.state.behaviours[call_id] = Behaviour(**values)
            self._server.state.failures[call_id] = 0

    def clear_behaviour(self, call_id: str | None = None) -> None:
        with self._server.lock:
            self._server.state.behaviours.pop(call_id, None)
            self._server.state.failures.pop(call_id, None)

    def add_recording(self, name: str, data: bytes, content_type: str = "audio/wav") -> None:
        with self._server.lock:
            self._server.state.recordings[name] = (data, content_type)

    def reset(self) -> None:
        """Forget calls, behaviours, recordings and received requests (keeps the key and the default call)."""
        with self._server.lock:
            state = self._server.state
            state.calls.clear()
            state.behaviours.clear()
            state.failures.clear()
            state.recordings.clear()
            state.received.clear()

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wait(self) -> None:
        """Block until ``stop`` (the command line's foreground mode)."""
        self._server.stopping.wait()

    def __enter__(self) -> FakePBX:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_fake_pbx(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    api_key: str | None = DEFAULT_API_KEY,
    default_call: Mapping[str, Any] | None = None,
) -> FakePBX:
    """Start the fake on a background thread; ``port=0`` picks a free port (read it from ``.port``/``.url``)."""
    server = _Server((host, port), _Handler)
    server.state = _State(api_key=api_key, default_call=dict(default_call) if default_call else None)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return FakePBX(server, thread)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up mid-answer (a size cap, a timeout) are expected; stay quiet about them."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FakePBX/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests assert on ``FakePBX.requests`` instead."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    _drip: Behaviour | None = None  # the behaviour of the answer being sent, when it drips

    def _dispatch(self) -> None:
        self._drip = None
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if parts.path == "/health":
            self._send_json(200, {"status": "ok"})
            return
        if parts.path == "/control":
            self._control(body)
            return
        received = ReceivedRequest(
            method=self.command,
            path=self.path,
            query=dict(parse_qsl(parts.query)),
            headers=dict(self.headers.items()),
            body=body,
        )
        with self.server.lock:
            self.server.state.received.append(received)
        if parts.path.startswith("/calls/"):
            self._call(unquote(parts.path.removeprefix("/calls/")))
        elif parts.path.startswith("/recordings/") and self.command == "GET":
            self._recording(unquote(parts.path.removeprefix("/recordings/")))
        else:
            self._send_json(404, {"error": "no such route", "path": self.path})

    def _behaviour(self, key: str) -> tuple[Behaviour, bool]:
        """The behaviour for ``key`` (else the global one) and whether this request is one of its failures."""
        with self.server.lock:
            state = self.server.state
            chosen = key if key in state.behaviours else None
            behaviour = state.behaviours.get(chosen, Behaviour())
            count = state.failures.get(chosen, 0)
            state.failures[chosen] = count + 1
        return behaviour, count < behaviour.fail_times

    def _misbehave(self, key: str, *, check_key: bool = True) -> Behaviour | None:
        """Apply delay, redirect, auth, failures and status; None when the answer has been sent."""
        behaviour, failing = self._behaviour(key)
        if behaviour.delay_s and self.server.stopping.wait(behaviour.delay_s):
            return None
        if behaviour.redirect_to:
            self.send_response(302)
            self.send_header("Location", behaviour.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        expected = self.server.state.api_key
        if check_key and expected is not None and self.headers.get("Authorization") != f"Bearer {expected}":
            self._send_json(401, {"error": "invalid or missing api key"})
            return None
        if failing:
            self._send_json(behaviour.fail_status, {"error": "temporarily unavailable"})
            return None
        if behaviour.status is not None:
            self._send_json(behaviour.status, {"error": HTTPStatus(behaviour.status).phrase, "path": self.path})
            return None
        if behaviour.garbage:
            self._send(200, b"<html><body>502 Bad Gateway (not JSON)</body>", "text/html")
            return None
        self._drip = behaviour
        return behaviour

    def _call(self, call_id: str) -> None:
        behaviour = self._misbehave(call_id)
        if behaviour is None:
            return
        with self.server.lock:
            stored = self.server.state.calls.get(call_id, self.server.state.default_call)
        if stored is None:
            self._send_json(404, {"error": "call not found", "path": self.path})
            return
        data = _call_answer(call_id, stored, behaviour)
        if behaviour.huge_bytes:
            self._send_huge(data, behaviour.huge_bytes)
        else:
            self._send_json(200, {"data": data})

    def _recording(self, name: str) -> None:
        behaviour = self._misbehave(f"recordings/{name}", check_key=False)
        if behaviour is None:
            return
        with self.server.lock:
            found = self.server.state.recordings.get(name)
        if found is None:
            self._send_json(404, {"error": "recording not found"})
            return
        self._send(200, found[0], found[1])

    def _control(self, body: bytes) -> None:
        try:
            command = json.loads(body or b"{}")
            answer = _apply_control(FakePBX(self.server), command)
        except (ValueError, KeyError, TypeError) as exc:
            self._send_json(400, {"error": f"{type(exc).__name__}: {exc}"})
            return
        self._send_json(200, answer)

    def _send_huge(self, data: dict[str, Any], size: int) -> None:
        """A valid JSON document past ``size`` bytes, close-delimited so that only streaming can cap it."""
        head = json.dumps({"data": data, "padding": ""})[:-2].encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(head)
        for _ in range(size // _HUGE_CHUNK + 1):
            self.wfile.write(b"x" * _HUGE_CHUNK)
        self.wfile.write(b'"}')

    def _send_json(self, status: int, document: Any) -> None:
        self._send(status, json.dumps(document).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        if self._drip is not None and self._drip.drip_s:
            self._send_dripping(status, body, content_type, self._drip)
            return
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


    def _send_dripping(self, status: int, body: bytes, content_type: str, behaviour: Behaviour) -> None:
        """The whole answer, declared with its length, but written one byte every ``drip_s`` seconds (from the
        first byte of the body, or of the status line with ``drip_headers``) until it is done or the client leaves."""
        head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        self.close_connection = True
        dripped = head + body if behaviour.drip_headers else body
        try:
            if not behaviour.drip_headers:
                self.wfile.write(head)
                self.wfile.flush()
            for index in range(len(dripped)):
                self.wfile.write(dripped[index:index + 1])
                self.wfile.flush()
                if self.server.stopping.wait(behaviour.drip_s):
                    return
        except OSError:
            return  # the client gave up: what a deadline is for


def _call_answer(call_id: str, stored: Mapping[str, Any], behaviour: Behaviour) -> dict[str, Any]:
    extra = {k: v for k, v in stored.items() if k not in ("email", "line")}
    email = behaviour.email if behaviour.email is not None else stored.get("email")
    line = behaviour.line if behaviour.line is not None else stored.get("line")
    return {"id": call_id, "agent": {"email": email}, "line": line, **extra}


def _apply_control(pbx: FakePBX, command: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /control``: ``{"op": "set_call" | "set_default_call" | "set_behaviour" | "clear_behaviour" |
    "add_recording" | "set_api_key" | "reset" | "state", ...}`` with the keyword arguments of the method."""
    args = {k: v for k, v in command.items() if k != "op"}
    op = command["op"]
    if op == "set_call":
        pbx.set_call(**args)
    elif op == "set_default_call":
        pbx.set_default_call(**args)
    elif op == "set_behaviour":
        pbx.set_behaviour(**args)
    elif op == "clear_behaviour":
        pbx.clear_behaviour(args.get("call_id"))
    elif op == "add_recording":
        pbx.add_recording(args["name"], base64.b64decode(args["data_base64"]), args.get("content_type", "audio/wav"))
    elif op == "set_api_key":
        pbx.set_api_key(args.get("api_key"))
    elif op == "reset":
        pbx.reset()
    elif op != "state":
        raise ValueError(f"unknown op {op!r}")
    return {"ok": True, **_describe(pbx)}


def _describe(pbx: FakePBX) -> dict[str, Any]:
    with pbx._server.lock:
        state = pbx._server.state
        return {
            "calls": sorted(state.calls),
            "default_call": state.default_call,
            "behaviours": {str(k) if k is not None else "*": asdict(v) for k, v in state.behaviours.items()},
            "recordings": sorted(state.recordings),
            "requests_received": len(state.received),
        }


def main(argv: list[str] | None = None) -> None:
    """``python -m callhook_local.fake_pbx``: serve until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m callhook_local.fake_pbx", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8085)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the bearer key calls must carry")
    parser.add_argument("--default-email", help="answer unknown call ids with this agent email")
    parser.add_argument("--default-line", help="answer unknown call ids with this line (topic alias)")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="start with this global behaviour")
    args = parser.parse_args(argv)
    default = {k: v for k, v in {"email": args.default_email, "line": args.default_line}.items() if v}
    pbx = start_fake_pbx(args.host, args.port, api_key=args.api_key, default_call=default or None)
    if args.preset:
        pbx.set_behaviour(preset=args.preset)
    print(f"fake PBX listening on {pbx.url} (api key {args.api_key!r}); Ctrl-C stops it", flush=True)
    try:
        pbx.wait()
    except KeyboardInterrupt:
        pass
    finally:
        pbx.stop()


if __name__ == "__main__":
    main()
