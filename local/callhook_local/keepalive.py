"""moto's server with HTTP/1.1 keep-alive: a client's connection serves request after request, as AWS's endpoints do.

werkzeug's development server (under moto's ThreadedMotoServer) answers every request with `Connection: close`, so
every AWS call a sandbox makes (17 per webhook) opened a TCP connection, and the stack's process accepted it and
started a thread for it, then drained the socket for 10 ms before closing it. werkzeug closes because Python's
http.server "doesn't know how to drain the stream before the next request line". Here each request's body is read
in full (its Content-Length) before moto sees it, so the connection always stands at the next request line once a
response is written; then the connection stays open:
- only for an HTTP/1.1 request with a Content-Length (or no body) that does not ask to close; a request with a
  `Transfer-Encoding` body, or an HTTP/1.0 one, is answered and closed as before;
- werkzeug's drain after the response reads from an empty stream instead of the socket (so the next request,
  which the client may already have sent, is not eaten);
- a connection left idle for `IDLE_TIMEOUT_S` is closed (the client's pool opens a new one), and `stop()` closes
  every open connection, so a stopped stack serves nothing more.
tests/integration/test_keepalive.py proves reuse, a body moto did not read, chunked and HTTP/1.0 requests, and stop.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

IDLE_TIMEOUT_S = 120.0
_werkzeug_log = logging.getLogger("werkzeug")


class KeepAliveRequestHandler(MotoRequestHandler):
    timeout = IDLE_TIMEOUT_S  # StreamRequestHandler: the socket's timeout, i.e. how long an idle connection stays
    # TCP_NODELAY: http.server writes the headers and the body in two sends; on a kept connection Nagle's algorithm
    # then holds the body until the client's delayed ACK (~40 ms a request). A closed connection flushed at once.
    disable_nagle_algorithm = True
    _keep_alive = False
    _socket_rfile: Any = None

    def setup(self) -> None:
        super().setup()
        _connections(self.server).add(self.connection)
        self.server.callhook_accepted = getattr(self.server, "callhook_accepted", 0) + 1  # type: ignore[attr-defined]

    def finish(self) -> None:
        _connections(self.server).discard(self.connection)
        super().finish()

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        connection = self.headers.get("Connection", "").lower()
        self._keep_alive = (self.request_version == "HTTP/1.1" and "close" not in connection
                            and "Transfer-Encoding" not in self.headers
                            and not getattr(self.server, "callhook_stopping", False))
        if self._keep_alive:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            if len(body) < length:  # the client went away mid-body
                self._keep_alive = False
            environ["wsgi.input"] = io.BytesIO(body)
            # werkzeug drains self.rfile after the response: let it drain an empty stream, not the next request
            self._socket_rfile, self.rfile = self.rfile, io.BytesIO()
        return environ

    def run_wsgi(self) -> None:
        try:
            super().run_wsgi()
        finally:
            if self._socket_rfile is not None:
                self.rfile, self._socket_rfile = self._socket_rfile, None
            if not self._keep_alive:
                self.close_connection = True
            self._keep_alive = False

    def send_header(self, keyword: str, value: str) -> None:
        if self._keep_alive and keyword.lower() == "connection" and value.lower() == "close":
            return  # werkzeug always sends it; http.server would then close the connection
        super().send_header(keyword, value)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if _werkzeug_log.isEnabledFor(logging.INFO):  # the access line is formatted only to be dropped otherwise
            super().log_request(code, size)


def _connections(server: Any) -> set[socket.socket]:
    connections: set[socket.socket] | None = getattr(server, "callhook_connections", None)
    if connections is None:
        connections = server.callhook_connections = set()
    return connections


class KeepAliveMotoServer(ThreadedMotoServer):
    """ThreadedMotoServer with KeepAliveRequestHandler; `stop()` also closes the connections still open."""

    def _server_entry(self) -> None:  # moto's, with our request handler
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self._ip_address, self._port, app, True,
                                   request_handler=KeepAliveRequestHandler)
        self._server.callhook_connections = set()  # type: ignore[attr-defined]
        self._server_ready_event.set()
        self._server.serve_forever()

    @property
    def open_connections(self) -> int:
        return len(_connections(self._server)) if self._server else 0

    @property
    def accepted_connections(self) -> int:
        return int(getattr(self._server, "callhook_accepted", 0))

    def stop(self) -> None:
        server = self._server
        if server is not None:
            server.callhook_stopping = True  # type: ignore[attr-defined]
        super().stop()
        if server is not None:
            for connection in list(_connections(server)):
                with contextlib.suppress(OSError):  # its thread's read returns: the handler ends
                    connection.shutdown(socket.SHUT_RDWR)

