"""callhook.outbound: the SSRF rules, checked without touching any network but the fake PBX on 127.0.0.1.

Names are resolved by a fake resolver (``dns``), and "public" addresses are reached through the ``internet``
fixture, which sends urllib3's connections for them to the fake PBX and records which address was connected to.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import urllib3.util.connection

from callhook.errors import (
    ActionConnectionError,
    ActionResponseTooLargeError,
    ActionTimeoutError,
    ActionTooManyRedirectsError,
    BlockedDestinationError,
)
from callhook.outbound import _Destination, _PinnedAdapter, check_destination, classify_address, safe_request
from callhook_local.fake_pbx import FakePBX, start_fake_pbx

PUBLIC_IP = "93.184.215.14"
OTHER_PUBLIC_IP = "93.184.215.15"
MAX_BYTES = 64 * 1024


class FakeDNS:
    """Answers from ``records`` (a name maps to successive answers; the last one repeats); others: NXDOMAIN."""

    def __init__(self) -> None:
        self.records: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []
        self._real_getaddrinfo = socket.getaddrinfo

    def add(self, name: str, *answers: list[str]) -> None:
        self.records[name] = list(answers)

    def getaddrinfo(self, host: str, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> Any:
        if _is_ip(host):  # urllib3 "resolves" the pinned address itself; no DNS is involved
            return self._real_getaddrinfo(host, port, family, type, proto, flags)
        self.lookups.append(host)
        answers = self.records.get(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        addresses = answers.pop(0) if len(answers) > 1 else answers[0]
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    resolver = FakeDNS()
    resolver.add("public.example", [PUBLIC_IP])
    resolver.add("other.example", [OTHER_PUBLIC_IP])
    resolver.add("internal.example", ["10.1.2.3"])
    resolver.add("metadata.example", ["169.254.169.254"])
    resolver.add("ula.example", ["fd00::1"])
    resolver.add("mixed.example", [PUBLIC_IP, "10.0.0.5"])
    resolver.add("mixed6.example", [PUBLIC_IP, "::1"])
    resolver.add("127.0.0.1.nip.example", ["127.0.0.1"])
    resolver.add("localhost", ["127.0.0.1", "::1"])
    monkeypatch.setattr(socket, "getaddrinfo", resolver.getaddrinfo)
    return resolver


@pytest.fixture
def no_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test: refusals must happen before a socket is opened."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        pytest.fail(f"a connection was attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib3.util.connection, "create_connection", refuse)


@pytest.fixture
def fake_pbx() -> Iterator[FakePBX]:
    with start_fake_pbx(api_key=None) as pbx:
        pbx.set_call("c-1", email="ann@example.com", line="online")
        yield pbx


@pytest.fixture
def internet(monkeypatch: pytest.MonkeyPatch, fake_pbx: FakePBX) -> list[str]:
    """The public addresses lead to the fake PBX; returns the addresses urllib3 connected to, in order."""
    connected: list[str] = []
    real_create_connection = urllib3.util.connection.create_connection

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        connected.append(address[0])
        if address[0] not in (PUBLIC_IP, OTHER_PUBLIC_IP):
            pytest.fail(f"connected to an address that was not vetted as public: {address[0]}")
        return real_create_connection(("127.0.0.1", fake_pbx.port), *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    return connected


def _get(url: str, **kwargs: Any) -> Any:
    options: dict[str, Any] = {"allow_private_network": False, "timeout_s": 2, "max_bytes": MAX_BYTES, **kwargs}
    return safe_request("GET", url, **options)


# What an attacker puts in a webhook field or an action URL to reach something private.
ATTACKER_URLS = [
    # loopback, in every spelling the OS accepts
    "http://127.0.0.1/",
    "http://127.1/",
    "http://127.0.0.1./",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0x7f.1/",
    "http://0x7f000001/",
    "http://017700000001/",
    "http://0x7f.0x0.0x0.0x1/",
    "http://%31%32%37.0.0.1/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]/",
    "http://[::127.0.0.1]/",
    "http://[2002:7f00:1::]/",
    "http://localhost:8080/",
    "https://127.0.0.1.nip.example/",
    # unspecified
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    # cloud metadata
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://2852039166/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://metadata.example/latest/meta-data/",
    # link-local
    "http://169.254.1.1/",
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    # private, CGNAT, ULA
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1:8080/admin",
    "http://[::ffff:10.0.0.1]/",
    "http://100.64.0.1/",
    "http://[fc00::1]/",
    "http://[fd12:3456:789a::1]/",
    "http://internal.example/",
    "http://ula.example/",
    "http://mixed.example/",
    "http://mixed6.example/",
    # multicast, broadcast, reserved
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://255.255.255.255/",
    "http://240.0.0.1/",
    # credentials in the URL (also the classic parser confusions)
    "http://user:pass@public.example/",
    "http://public.example@127.0.0.1/",
    "http://127.0.0.1:80@public.example/",
    # other schemes, and no scheme
    "ftp://public.example/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:70/_stats",
    "dict://127.0.0.1:11211/stat",
    "javascript:alert(1)",
    "//127.0.0.1/",
    "http:///127.0.0.1/",
]


@pytest.mark.parametrize("url", ATTACKER_URLS)
@pytest.mark.usefixtures("no_connect")
def test_safe_request_refuses_attacker_destinations_before_connecting(url: str, dns: FakeDNS) -> None:
    # Given a URL aimed at something private, and no connection allowed
    # When
    with pytest.raises(BlockedDestinationError) as caught:
        _get(url)
    # Then it is refused with a reason, before any socket was opened (no_connect)
    assert caught.value.details["reason"]
    assert "refused" in caught.value.message


@pytest.mark.usefixtures("no_connect")
def test_check_destination_refuses_the_whole_corpus(dns: FakeDNS) -> None:
    # Given the attacker corpus
    refused: dict[str, str] = {}
    # When each URL is checked on its own
    for url in ATTACKER_URLS:
        try:
            check_destination(url, allow_private_network=False)
        except BlockedDestinationError as exc:
            refused[url] = exc.message
    # Then 100% are refused, each with a reason
    assert sorted(refused) == sorted(ATTACKER_URLS)
    assert all("refused" in message for message in refused.values())


@pytest.mark.usefixtures("no_connect")
def test_check_destination_names_host_address_and_remedy(dns: FakeDNS) -> None:
    # Given a name that resolves to a loopback address
    # When
    with pytest.raises(BlockedDestinationError) as caught:
        check_destination("http://localhost:8080/x", allow_private_network=False)
    # Then the error says what, where and how to allow it
    assert caught.value.as_dict() == {
        "type": "BlockedDestinationError",
        "code": "blocked_destination",
        "message": "loopback address 127.0.0.1 (resolved from localhost) refused; "
        "set allow_private_network on the item to allow it",
        "host": "localhost",
        "address": "127.0.0.1",
        "reason": "loopback address",
    }


@pytest.mark.usefixtures("no_connect")
def test_check_destination_allows_public_names_and_private_ones_when_allowed(dns: FakeDNS) -> None:
    # Given / When / Then: a public name passes, a private one passes only with allow_private_network
    check_destination("https://public.example/calls/1", allow_private_network=False)
    check_destination("http://127.0.0.1:8085/calls/1", allow_private_network=True)
    check_destination("http://internal.example/", allow_private_network=True)


@pytest.mark.usefixtures("no_connect")
def test_check_destination_keeps_scheme_and_credential_rules_when_private_network_allowed(dns: FakeDNS) -> None:
    # Given allow_private_network, which lifts the address rules only
    # When / Then
    with pytest.raises(BlockedDestinationError, match="scheme 'file' refused"):
        check_destination("file:///etc/passwd", allow_private_network=True)
    with pytest.raises(BlockedDestinationError, match="credentials in the URL refused"):
        check_destination("http://u:p@127.0.0.1/", allow_private_network=True)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback address"),
        ("0.0.0.0", "unspecified address"),
        ("::", "unspecified address"),
        ("169.254.169.254", "cloud metadata address"),
        ("fd00:ec2::254", "cloud metadata address"),
        ("169.254.10.1", "link-local address"),
        ("10.9.8.7", "private address"),
        ("172.31.255.255", "private address"),
        ("100.127.0.1", "carrier-grade NAT address"),
        ("fd01::5", "unique local address (ULA)"),
        ("239.1.1.1", "multicast address"),
        ("255.255.255.255", "reserved address"),
        ("192.0.2.1", "documentation address"),
        ("::ffff:192.168.0.1", "IPv4-mapped private address"),
        ("::ffff:0:127.0.0.1", "IPv4-translated loopback address"),
        ("64:ff9b::10.0.0.1", "NAT64 private address"),
        ("2002:a9fe:a9fe::1", "6to4 cloud metadata address"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo tunnel address"),
        ("8.8.8.8", None),
        ("93.184.215.14", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),
    ],
)
def test_classify_address_gives_a_reason_only_for_non_public_addresses(address: str, reason: str | None) -> None:
    # Given / When
    found = classify_address(ipaddress.ip_address(address))
    # Then
    assert found == reason
    assert classify_address(address) == reason


def test_safe_request_fetches_from_fake_pbx_when_private_network_allowed(fake_pbx: FakePBX) -> None:
    # Given the fake PBX on 127.0.0.1
    # When
    response = _get(f"{fake_pbx.url}/calls/c-1", allow_private_network=True, params={"x": "1"})
    # Then
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert b'"email": "ann@example.com"' in response.body
    assert response.final_url == f"{fake_pbx.url}/calls/c-1?x=1"
    assert response.elapsed > 0
    assert fake_pbx.requests[-1].headers["Host"] == f"127.0.0.1:{fake_pbx.port}"


def test_safe_request_refuses_fake_pbx_without_allow_private_network(fake_pbx: FakePBX) -> None:
    # Given / When
    with pytest.raises(BlockedDestinationError, match=r"loopback address 127\.0\.0\.1 refused"):
        _get(f"{fake_pbx.url}/calls/c-1")
    # Then nothing reached it
    assert fake_pbx.requests == []


def test_safe_request_stops_streaming_at_max_bytes(fake_pbx: FakePBX) -> None:
    # Given an answer of ~1 MiB without Content-Length
    fake_pbx.set_behaviour("c-1", huge_bytes=1024 * 1024)
    # When / Then
    with pytest.raises(ActionResponseTooLargeError) as caught:
        _get(f"{fake_pbx.url}/calls/c-1", allow_private_network=True)
    assert caught.value.code == "oversized"
    assert caught.value.details["max_bytes"] == MAX_BYTES


def test_safe_request_refuses_declared_length_over_max_bytes(fake_pbx: FakePBX) -> None:
    # Given an ordinary answer with Content-Length, larger than a tiny cap
    # When / Then
    with pytest.raises(ActionResponseTooLargeError):
        _get(f"{fake_pbx.url}/calls/c-1", allow_private_network=True, max_bytes=10)


def test_safe_request_times_out_on_a_slow_server(fake_pbx: FakePBX) -> None:
    # Given a server that waits 2 s before answering
    fake_pbx.set_behaviour("c-1", delay_s=2)
    # When / Then
    with pytest.raises(ActionTimeoutError) as caught:
        _get(f"{fake_pbx.url}/calls/c-1", allow_private_network=True, timeout_s=0.3)
    assert caught.value.details == {"host": "127.0.0.1", "timeout_s": 0.3, "phase": "read"}


class DripServer:
    """A raw HTTP server on 127.0.0.1 that answers every connection with ``head`` at once, then ``body`` one byte
    every ``interval`` seconds (no Content-Length unless ``head`` says so: the body ends when the connection does)."""

    def __init__(self, head: bytes, body: bytes, interval: float, drip_head: bool = False) -> None:
        self.head, self.body, self.interval, self.drip_head = head, body, interval, drip_head
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.sent = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            dripped = self.head + self.body if self.drip_head else self.body
            try:
                if not self.drip_head:
                    conn.sendall(self.head)
                for index in range(len(dripped)):
                    conn.sendall(dripped[index:index + 1])
                    self.sent += 1
                    if self.stopping.wait(self.interval):
                        return
            except OSError:
                return

    def stop(self) -> None:
        self.stopping.set()
        self.listener.close()


@pytest.fixture
def drip_server() -> Iterator[Any]:
    servers: list[DripServer] = []

    def start(head: bytes, body: bytes = b"x" * 1000, interval: float = 0.2, drip_head: bool = False) -> DripServer:
        servers.append(DripServer(head, body, interval, drip_head))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


CLOSE_DELIMITED = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "close-delimited"])
def test_a_body_dripping_one_byte_at_a_time_times_out_at_the_deadline(drip_server: Any, declared: bool) -> None:
    # Given a server that sends its headers at once, then the body a byte every 0.2 s (each read is quick)
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n" if declared
            else CLOSE_DELIMITED)
    server = drip_server(head)
    started = time.monotonic()
    # When
    with pytest.raises(ActionTimeoutError) as caught:
        _get(f"http://127.0.0.1:{server.port}/calls/c-1", allow_private_network=True, timeout_s=1.0)
    # Then: the whole exchange ended at its deadline, not after 1000 bytes (200 s); a body cut short is no answer
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 1.6, elapsed
    assert caught.value.details == {"host": "127.0.0.1", "timeout_s": 1.0, "phase": "body"}


def test_headers_dripping_one_byte_at_a_time_time_out_at_the_deadline(drip_server: Any) -> None:
    # Given a server that drips its status line and headers too, one byte every 0.1 s
    server = drip_server(b"HTTP/1.1 200 OK\r\n" + b"X-Padding: " + b"p" * 500 + b"\r\n\r\n", interval=0.1,
                         drip_head=True)
    started = time.monotonic()
    # When
    with pytest.raises(ActionTimeoutError) as caught:
        _get(f"http://127.0.0.1:{server.port}/calls/c-1", allow_private_network=True, timeout_s=1.0)
    # Then
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 1.6, elapsed
    assert caught.value.details["phase"] == "read"
    assert server.sent < 20  # the watchdog hung up: the server stopped being read long before its 500 bytes


def test_a_dripping_download_to_a_file_times_out_and_stops_writing(drip_server: Any) -> None:
    # Given a recording served a byte every 0.1 s
    server = drip_server(b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: 1000\r\n\r\n",
                         interval=0.1)
    sink = io.BytesIO()
    started = time.monotonic()
    # When
    with pytest.raises(ActionTimeoutError):
        _get(f"http://127.0.0.1:{server.port}/recordings/r.wav", allow_private_network=True, timeout_s=0.8,
             stream_to=sink)
    # Then
    assert time.monotonic() - started < 1.4
    assert len(sink.getvalue()) < 1000


def test_the_deadline_covers_every_hop_of_a_redirect_chain(fake_pbx: FakePBX) -> None:
    # Given a redirect to a call whose body drips (the first hop answers at once)
    fake_pbx.set_behaviour("c-1", drip_s=0.2)
    fake_pbx.set_behaviour("hop", redirect_to=f"{fake_pbx.url}/calls/c-1")
    started = time.monotonic()
    # When / Then
    with pytest.raises(ActionTimeoutError):
        _get(f"{fake_pbx.url}/calls/hop", allow_private_network=True, timeout_s=1.0)
    assert time.monotonic() - started < 1.6


def _self_signed(directory: Any) -> tuple[str, str]:
    """A certificate and key for 127.0.0.1 (the handshake is cut before the client would check it)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "drip.example")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_a_tls_handshake_dripped_one_byte_at_a_time_times_out_at_the_deadline(tmp_path: Any) -> None:
    # Given a TLS server whose handshake bytes leave one every 0.05 s (its certificate alone takes a minute)
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_self_signed(tmp_path))
    listener = socket.create_server(("127.0.0.1", 0))
    stopping = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_side=True)
        with conn:
            incoming.write(conn.recv(65536))  # the ClientHello
            with contextlib.suppress(ssl.SSLWantReadError):  # it waits for the client's answer, which never comes
                tls.do_handshake()
            pending = outgoing.read()
            for index in range(len(pending)):
                try:
                    conn.sendall(pending[index:index + 1])
                except OSError:
                    return
                if stopping.wait(0.05):
                    return

    threading.Thread(target=serve, daemon=True).start()
    started = time.monotonic()
    try:
        # When
        with pytest.raises(ActionTimeoutError):
            _get(f"https://127.0.0.1:{listener.getsockname()[1]}/calls/c-1", allow_private_network=True,
                 timeout_s=1.0)
        # Then
        assert time.monotonic() - started < 1.6
    finally:
        stopping.set()
        listener.close()


def test_a_name_that_takes_too_long_to_resolve_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a resolver that answers after 5 s
    released = threading.Event()

    def slow_getaddrinfo(*args: Any, **kwargs: Any) -> Any:
        released.wait(5)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
    started = time.monotonic()
    # When
    with pytest.raises(ActionTimeoutError) as caught:
        _get("https://slow-dns.example/calls/c-1", timeout_s=0.5)
    released.set()
    # Then
    assert time.monotonic() - started < 1.0
    assert caught.value.details == {"host": "slow-dns.example", "timeout_s": 0.5, "phase": "dns"}


def test_a_quick_answer_is_not_cut_by_the_watchdog(fake_pbx: FakePBX) -> None:
    # Given a body that drips for 0.5 s in all, well within the deadline
    fake_pbx.add_recording("short.wav", b"RIFF" + b"\0" * 4, "audio/wav")
    fake_pbx.set_behaviour("recordings/short.wav", drip_s=0.05)
    # When
    response = _get(f"{fake_pbx.url}/recordings/short.wav", allow_private_network=True, timeout_s=3)
    # Then
    assert response.status == 200 and response.body == b"RIFF" + b"\0" * 4


def test_safe_request_reports_connection_refused_with_host() -> None:
    # Given a port nobody listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # When / Then
    with pytest.raises(ActionConnectionError) as caught:
        _get(f"http://127.0.0.1:{port}/", allow_private_network=True)
    assert caught.value.details["reason"] == "refused"
    assert caught.value.details["host"] == "127.0.0.1"


@pytest.mark.usefixtures("no_connect")
def test_safe_request_reports_dns_failure_with_host(dns: FakeDNS) -> None:
    # Given / When / Then
    with pytest.raises(ActionConnectionError, match=r"DNS lookup for nowhere\.example failed") as caught:
        _get("https://nowhere.example/")
    assert caught.value.details == {"host": "nowhere.example", "reason": "dns"}


def test_safe_request_gives_up_after_max_redirects(fake_pbx: FakePBX) -> None:
    # Given a call that redirects to itself
    fake_pbx.set_behaviour("c-1", redirect_to=f"{fake_pbx.url}/calls/c-1")
    # When / Then
    with pytest.raises(ActionTooManyRedirectsError):
        _get(f"{fake_pbx.url}/calls/c-1", allow_private_network=True, max_redirects=2)
    assert len(fake_pbx.requests) == 3


def test_safe_request_writes_body_to_stream_to(fake_pbx: FakePBX) -> None:
    # Given a recording
    fake_pbx.add_recording("r-1.wav", b"RIFF" + b"\0" * 1000, "audio/wav")
    sink = io.BytesIO()
    # When
    response = _get(f"{fake_pbx.url}/recordings/r-1.wav", allow_private_network=True, stream_to=sink)
    # Then
    assert response.body == b""
    assert sink.getvalue() == b"RIFF" + b"\0" * 1000
    assert response.headers["Content-Type"] == "audio/wav"


def test_safe_request_pins_the_connection_to_the_vetted_address(
    dns: FakeDNS, internet: list[str], fake_pbx: FakePBX
) -> None:
    # Given a name whose first answer is public and every later answer is loopback (DNS rebinding)
    dns.add("rebind.example", [PUBLIC_IP], ["127.0.0.1"])
    # When
    response = _get(f"http://rebind.example:{fake_pbx.port}/calls/c-1")
    # Then the connection went to the vetted address, resolved once, and the Host header kept the name
    assert response.status == 200
    assert internet == [PUBLIC_IP]
    assert dns.lookups == ["rebind.example"]
    assert fake_pbx.requests[0].headers["Host"] == f"rebind.example:{fake_pbx.port}"


def test_safe_request_tries_the_next_vetted_address_when_one_refuses(
    dns: FakeDNS, internet: list[str], fake_pbx: FakePBX, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a name with two public addresses, the first of which refuses connections
    dns.add("dual.example", [PUBLIC_IP, OTHER_PUBLIC_IP])
    forward = urllib3.util.connection.create_connection

    def first_refuses(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        if address[0] == PUBLIC_IP:
            internet.append(address[0])
            raise ConnectionRefusedError(111, "Connection refused")
        return forward(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", first_refuses)
    # When
    response = _get(f"http://dual.example:{fake_pbx.port}/calls/c-1")
    # Then
    assert response.status == 200
    assert internet == [PUBLIC_IP, OTHER_PUBLIC_IP]


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/calls/c-1",
        "http://internal.example/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "file:///etc/passwd",
    ],
)
def test_safe_request_refuses_redirect_from_public_host_to_private_target(
    target: str, dns: FakeDNS, internet: list[str], fake_pbx: FakePBX
) -> None:
    # Given a public host that redirects to a private target
    fake_pbx.set_behaviour("c-1", redirect_to=target.format(port=fake_pbx.port))
    # When
    with pytest.raises(BlockedDestinationError):
        _get(f"http://public.example:{fake_pbx.port}/calls/c-1")
    # Then only the first, public hop was connected to
    assert internet == [PUBLIC_IP]
    assert len(fake_pbx.requests) == 1


def test_safe_request_follows_public_redirect_and_drops_authorization_across_hosts(
    dns: FakeDNS, internet: list[str], fake_pbx: FakePBX
) -> None:
    # Given a public host that redirects to another public host
    fake_pbx.set_call("c-2", email="bob@example.com")
    fake_pbx.set_behaviour("c-1", redirect_to=f"http://other.example:{fake_pbx.port}/calls/c-2")
    # When
    response = _get(f"http://public.example:{fake_pbx.port}/calls/c-1", headers={"Authorization": "Bearer k"})
    # Then the redirect was followed, each hop pinned, and the credentials stayed with their origin
    assert response.status == 200
    assert response.final_url == f"http://other.example:{fake_pbx.port}/calls/c-2"
    assert internet == [PUBLIC_IP, OTHER_PUBLIC_IP]
    first, second = fake_pbx.requests
    assert first.headers["Authorization"] == "Bearer k"
    assert "Authorization" not in second.headers
    assert second.headers["Host"] == f"other.example:{fake_pbx.port}"


def test_safe_request_keeps_authorization_on_same_origin_redirect(
    dns: FakeDNS, internet: list[str], fake_pbx: FakePBX
) -> None:
    # Given a redirect to another path of the same origin
    fake_pbx.set_call("c-2", email="bob@example.com")
    fake_pbx.set_behaviour("c-1", redirect_to="/calls/c-2")
    # When
    response = _get(f"http://public.example:{fake_pbx.port}/calls/c-1", headers={"Authorization": "Bearer k"})
    # Then
    assert response.status == 200
    assert [r.headers.get("Authorization") for r in fake_pbx.requests] == ["Bearer k", "Bearer k"]


def test_pinned_adapter_connects_to_address_with_host_name_for_sni_and_certificate() -> None:
    # Given an https request to a vetted name
    destination = _Destination(
        scheme="https",
        host="pbx.example.com",
        port=443,
        netloc="pbx.example.com",
        addresses=(ipaddress.ip_address(PUBLIC_IP),),
    )
    request = requests.Request("GET", "https://pbx.example.com/calls/1").prepare()
    adapter = _PinnedAdapter(destination, destination.addresses[0])
    # When
    host_params, pool_kwargs = adapter.build_connection_pool_key_attributes(request, True)
    # Then urllib3 connects to the address, and sends and checks the name over TLS
    assert host_params == {"scheme": "https", "host": PUBLIC_IP, "port": 443}
    assert pool_kwargs["server_hostname"] == "pbx.example.com"


# ------------------------------------------- secret-bearing headers never follow a redirect off-origin


class _Recorder(BaseHTTPRequestHandler):
    """A tiny origin: `/to/<status>?<url>` redirects there with that status; anything else answers 200 JSON. Every
    request's headers are kept in ``server.seen`` (path, headers)."""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def _answer(self) -> None:
        self.server.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))  # type: ignore[attr-defined]
        if self.path.startswith("/to/"):
            status, _, target = self.path.removeprefix("/to/").partition("?")
            self.send_response(int(status))
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"data": {"agent": {"email": "ann@example.com"}}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Origin:
    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
        self.server.seen = []  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def seen(self) -> list[tuple[str, dict[str, str]]]:
        return self.server.seen  # type: ignore[attr-defined,no-any-return]

    def redirect(self, status: int, target: str) -> str:
        return f"{self.url}/to/{status}?{target}"


@pytest.fixture
def origins() -> Iterator[tuple[Origin, Origin]]:
    """Two local servers on different ports: two origins, as far as a browser or callhook is concerned."""
    pair = (Origin(), Origin())
    yield pair
    for origin in pair:
        origin.server.shutdown()
        origin.server.server_close()


SECRET_HEADERS = {"Authorization": "Bearer k-1", "Proxy-Authorization": "Basic cHJveHk=", "Cookie": "session=s-1",
                  "X-Api-Key": "api-key-1", "X-Recording-Token": "rec-1"}


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_origin_receives_no_secret_header(status: int, origins: tuple[Origin, Origin]) -> None:
    # Given an origin that redirects to another origin (another port)
    first, second = origins
    # When a request with every kind of secret header follows it
    response = _get(first.redirect(status, f"{second.url}/landing"), allow_private_network=True,
                    headers={**SECRET_HEADERS, "X-Trace": "t-1"}, secret_headers=["x-api-key", "X-RECORDING-TOKEN"])
    # Then the origin got them all, the other origin none of them; the harmless header followed
    assert response.status == 200
    [(_, sent_first)], [(path, sent_second)] = first.seen, second.seen
    assert path == "/landing"
    assert {k.lower() for k in SECRET_HEADERS} <= set(sent_first)
    assert not {k.lower() for k in SECRET_HEADERS} & set(sent_second), sent_second
    assert sent_second["x-trace"] == "t-1"


def test_a_same_origin_redirect_keeps_secret_headers(origins: tuple[Origin, Origin]) -> None:
    first, _ = origins
    _get(first.redirect(302, f"{first.url}/landing"), allow_private_network=True, headers=SECRET_HEADERS,
         secret_headers=["X-Api-Key", "X-Recording-Token"])
    assert [headers["x-api-key"] for _, headers in first.seen] == ["api-key-1", "api-key-1"]
    assert [headers["authorization"] for _, headers in first.seen] == ["Bearer k-1", "Bearer k-1"]


def test_a_chain_that_left_the_origin_does_not_bring_secrets_back_to_it(origins: tuple[Origin, Origin]) -> None:
    # Given origin A -> origin B -> back to A: B chose the last hop, so it must not carry A's secrets either
    first, second = origins
    _get(first.redirect(302, second.redirect(302, f"{first.url}/landing")), allow_private_network=True,
         headers=SECRET_HEADERS, secret_headers=["X-Api-Key"])
    assert [path for path, _ in first.seen][1] == "/landing"
    assert "x-api-key" not in first.seen[1][1] and "authorization" not in first.seen[1][1]


def test_basic_auth_does_not_follow_a_redirect_to_another_origin(origins: tuple[Origin, Origin]) -> None:
    first, second = origins
    _get(first.redirect(302, f"{second.url}/r.wav"), allow_private_network=True, auth=("AC1", "auth-token"))
    assert first.seen[0][1]["authorization"].startswith("Basic ")
    assert "authorization" not in second.seen[0][1]


def test_a_307_to_another_origin_with_a_secret_body_is_refused(origins: tuple[Origin, Origin]) -> None:
    # Given a POST whose JSON body carries a secret, redirected with 307 (which resends the body)
    first, second = origins
    with pytest.raises(BlockedDestinationError, match="carries a secret"):
        safe_request("POST", first.redirect(307, f"{second.url}/landing"), allow_private_network=True, timeout_s=2,
                     max_bytes=MAX_BYTES, json={"key": "s-1"}, secret_body=True)
    # Then nothing reached the other origin
    assert second.seen == []


@pytest.mark.parametrize(("target", "kept"), [
    ("http://localhost:{port}/landing", False),  # the same server under another name is another origin
    ("HTTP://127.0.0.1:{port}/landing", True),  # scheme and host compare case-insensitively
    ("/landing", True),  # a relative Location stays on the origin
    ("//localhost:{port}/landing", False),  # a scheme-relative one need not
])
def test_the_origin_is_scheme_host_and_port_as_written(target: str, kept: bool,
                                                       origins: tuple[Origin, Origin]) -> None:
    first, _ = origins
    port = first.server.server_address[1]
    _get(first.redirect(302, target.format(port=port)), allow_private_network=True, headers=SECRET_HEADERS,
         secret_headers=["X-Api-Key"])
    followed = first.seen[1][1]
    assert ("x-api-key" in followed, "authorization" in followed, "cookie" in followed) == (kept, kept, kept)
