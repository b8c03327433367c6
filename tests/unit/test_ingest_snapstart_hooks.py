"""Ingest's SnapStart hooks (functions/ingest/app.py): the before-snapshot hook builds the clients of an accepted
webhook without calling AWS; the after-restore hook gives the restored sandbox its own randomness and its own
clients (new connections, credentials resolved again), keeping the service models the snapshot loaded.

The connections are real: the clients talk to a small HTTP server on loopback that answers every DynamoDB and Step
Functions request with an empty JSON object, and records which client connection each request came on.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import snapshot_restore_py

from callhook import aws
from callhook.settings import clear_settings_cache
from functions.ingest import app
from tests.unit.conftest import ROOT


class _AnyAws(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a pooled connection serves the next request
    connections: list[int] = []  # the client port of each request

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        _AnyAws.connections.append(self.client_address[1])
        body = b"{}"
        self.send_response(200)
        self.send_header("content-type", "application/x-amz-json-1.0")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AnyAws)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _AnyAws.connections = []
    url = f"http://127.0.0.1:{server.server_address[1]}"
    for key in ("CHANNELS_TABLE", "DIALOGS_TABLE", "EVENTS_TABLE", "OPERATORS_TABLE", "TOPICS_TABLE", "ACTIONS_TABLE",
                "SETTINGS_TABLE", "RECORDINGS_BUCKET"):
        monkeypatch.setenv(key, f"unit-{key.lower()}")
    monkeypatch.setenv("STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:unit")
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "snapshot-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "snapshot-secret")
    aws.reset_clients()
    clear_settings_cache()
    app.adapters.cache_clear()
    yield url
    aws.reset_clients()
    clear_settings_cache()
    app.adapters.cache_clear()
    server.shutdown()
    server.server_close()


def test_ingest_registers_its_hooks_with_the_runtime_s_registry() -> None:
    assert app.prepare_snapshot in [func for func, _, _ in snapshot_restore_py.get_before_snapshot()]
    assert app.renew_after_restore in [func for func, _, _ in snapshot_restore_py.get_after_restore()]


def test_the_snapshot_holds_the_webhook_s_clients_and_no_connection(endpoint: str) -> None:
    app.prepare_snapshot()
    assert set(app.SNAPSHOT_CLIENTS) <= set(aws._made)
    assert _AnyAws.connections == []  # nothing was called: no socket goes into the snapshot


def test_after_restore_the_sandbox_has_its_own_connections_credentials_and_randomness(
        endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a snapshot whose clients have called AWS (a pooled connection) with the credentials of its init
    app.prepare_snapshot()
    before = aws.client("dynamodb")
    before.list_tables()
    before.list_tables()
    assert len(set(_AnyAws.connections)) == 1
    loader = aws._session()._session.get_component("data_loader")
    random.seed(1234)
    snapshot_draw = random.random()
    random.seed(1234)  # the restored sandbox's generator: the snapshot's
    # When the sandbox is restored with credentials of its own
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "restored-key")
    app.renew_after_restore()
    # Then its randomness is its own
    assert random.random() != snapshot_draw
    # And its clients are new, made at once, with the credentials it has now, on the models already loaded
    after = aws.client("dynamodb")
    assert after is not before and set(app.SNAPSHOT_CLIENTS) <= set(aws._made)
    assert after._request_signer._credentials.access_key == "restored-key"
    assert aws._session()._session.get_component("data_loader") is loader
    # And its first call opens a connection of its own; the snapshot's pooled one is closed
    after.list_tables()
    assert _AnyAws.connections[-1] not in _AnyAws.connections[:2]
    assert not before._endpoint.http_session._manager.pools


def test_without_the_package_ingest_imports_and_answers_with_its_hooks_unregistered() -> None:
    # Given an interpreter where snapshot_restore_py cannot be imported (a bare checkout without the layer)
    probe = (
        "import json, sys\n"
        "sys.modules['snapshot_restore_py'] = None\n"
        "import functions.ingest.app as app\n"
        "print(json.dumps({'hooks': callable(app.prepare_snapshot) and callable(app.renew_after_restore),\n"
        "                  'registry': 'snapshot_restore_py' in sys.modules and sys.modules['snapshot_restore_py']\n"
        "                              is not None}))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_", "LAMBDA_"))}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                         env=env | {"POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"})
    # Then the import succeeds, the hooks exist (for a caller that runs them itself) and nothing was registered
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"hooks": True, "registry": False}
