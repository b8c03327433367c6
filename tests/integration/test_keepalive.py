"""moto's server on the local stack keeps HTTP/1.1 connections open (keepalive.py): one connection serves request
after request, with whatever body each carries, whether moto read it or not; a chunked or HTTP/1.0 request is
answered and closed as before; and a stopped server closes the connections still open."""

from __future__ import annotations

import json
import socket
import time

import boto3
from botocore.config import Config

from callhook_local.keepalive import KeepAliveMotoServer
from callhook_local.stack import LocalStack
from tests.conftest import free_port


def _request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
             version: str = "HTTP/1.1") -> bytes:
    lines = [f"{method} {path} {version}", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    if "Transfer-Encoding" not in (headers or {}):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP response (status, headers, body) read off the socket by its Content-Length."""
    sock.settimeout(10)  # a request the server lost fails the test instead of hanging it
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    length = int(headers["content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk
        rest += chunk
    assert len(rest) == length, "more than one response's bytes"
    return int(status_line.split()[1]), headers, rest


def _closed(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, TimeoutError):
        return False


def _list_tables(target: str = "DynamoDB_20120810.ListTables") -> bytes:
    return _request("POST", "/", b"{}", {
        "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=local/20261201/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=x"})


def test_one_connection_serves_request_after_request(local_stack: LocalStack) -> None:
    with socket.create_connection((local_stack.host, local_stack.aws_port)) as sock:
        answers = []
        for _ in range(3):
            sock.sendall(_list_tables())
            answers.append(_read_response(sock))
        # a request whose body moto never reads (an unknown route), then another on the same connection
        sock.sendall(_request("POST", "/no/such/route", b"x" * 70000))
        unknown = _read_response(sock)
        sock.sendall(_list_tables())
        after = _read_response(sock)
    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert all(headers.get("connection", "").lower() != "close" for _, headers, _ in answers)
    assert "TableNames" in json.loads(answers[0][2])
    assert unknown[0] >= 400
    assert after[0] == 200 and json.loads(after[2]) == json.loads(answers[0][2])


def test_two_requests_sent_at_once_are_both_answered(local_stack: LocalStack) -> None:
    # the second request is in the socket while the first is answered: it must not be drained away
    with socket.create_connection((local_stack.host, local_stack.aws_port)) as sock:
        sock.sendall(_list_tables() + _list_tables())
        first, second = _read_response(sock), _read_response(sock)
    assert first[0] == second[0] == 200


def test_chunked_and_http_1_0_requests_are_answered_then_closed(local_stack: LocalStack) -> None:
    with socket.create_connection((local_stack.host, local_stack.aws_port)) as sock:
        sock.sendall(_request("GET", "/moto-api/", version="HTTP/1.0"))
        status, headers, _ = _read_response(sock)
        assert status == 200 and headers.get("connection", "").lower() == "close"
        assert _closed(sock)
    with socket.create_connection((local_stack.host, local_stack.aws_port)) as sock:
        sock.sendall(_request("POST", "/no/such/route", b"3\r\nabc\r\n0\r\n\r\n",
                              {"Transfer-Encoding": "chunked"}))
        status, headers, _ = _read_response(sock)
        assert headers.get("connection", "").lower() == "close"
        assert _closed(sock)
    with socket.create_connection((local_stack.host, local_stack.aws_port)) as sock:
        sock.sendall(_request("GET", "/moto-api/", headers={"Connection": "close"}))
        assert _read_response(sock)[0] == 200
        assert _closed(sock)


def test_the_sdk_reuses_its_connection(local_stack: LocalStack) -> None:
    server = local_stack.server
    assert isinstance(server, KeepAliveMotoServer)
    ddb = boto3.client("dynamodb", endpoint_url=local_stack.endpoint, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local",
                       config=Config(max_pool_connections=1))
    ddb.list_tables()
    before = server.accepted_connections
    for _ in range(5):
        ddb.list_tables()
    assert server.accepted_connections == before  # no new connection for the next five calls


def test_stop_closes_the_open_connections() -> None:
    server = KeepAliveMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    sock = socket.create_connection((host, port))
    try:
        sock.sendall(_request("GET", "/moto-api/"))
        assert _read_response(sock)[0] == 200
        deadline = time.monotonic() + 5
        while server.open_connections != 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        server.stop()
        assert _closed(sock)  # the kept connection is closed, not left serving a stopped server
        assert server.open_connections == 0 or _eventually(lambda: server.open_connections == 0)
        refused = socket.socket()
        try:
            assert refused.connect_ex((host, port)) != 0  # nothing listens any more
        finally:
            refused.close()
    finally:
        sock.close()


def _eventually(condition: object, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_a_kept_connection_answers_without_waiting_for_the_client_s_ack(local_stack: LocalStack) -> None:
    # http.server sends the headers and the body apart: with Nagle's algorithm on, the body of every answer on a
    # kept connection waited for the client's delayed ACK (~40 ms)
    slow = 0
    with socket.create_connection((local_stack.host, local_stack.aws_port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as urllib3 sets it
        sock.sendall(_list_tables())
        _read_response(sock)
        for _ in range(10):
            started = time.perf_counter()
            sock.sendall(_list_tables())
            _read_response(sock)
            slow += time.perf_counter() - started >= 0.035
    assert slow < 5, f"{slow} of 10 answers took 35 ms or more"
