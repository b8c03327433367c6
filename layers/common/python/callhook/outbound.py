"""SSRF-safe outbound HTTP: everything callhook fetches on an admin's or a provider's say-so goes through here.

Why: an action's URL is built from admin configuration *and* webhook data, and a recording URL comes straight from
the provider, so either can point at the instance metadata service, the VPC or localhost. The rules (docs/items.md):

* only ``http``/``https``, and no credentials in the URL (they would end up in logs; use the action's secrets);
* the host is resolved first (``socket.getaddrinfo``, or the OS's own reading of numeric forms such as
  ``2130706433``, ``0177.0.0.1`` or ``0x7f.1``) and **every** address it resolves to must pass ``classify_address``;
* the connection is then **pinned** to the vetted address (``_PinnedAdapter``): urllib3 connects to that IP while
  the request keeps the name for ``Host``, TLS SNI and certificate checking, so a second, different DNS answer
  (rebinding) can never be the one connected to;
* redirects are followed here, one hop at a time, and each hop is vetted like the first, before any socket to it
  is opened; when a redirect leaves the origin (scheme, host and port), every header that carries a secret is
  dropped: ``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``auth``, and the caller's ``secret_headers``
  (an action's headers built from ``{secrets.…}``, a recording_auth header);
* the body is streamed and reading stops past ``max_bytes``;
* ``timeout_s`` is one deadline for the whole exchange: DNS, connecting, TLS, headers and body of every hop. A
  socket timeout bounds each wait for bytes, not a peer that sends one byte a second, so a watchdog
  (``_Watchdog``) shuts the exchange's sockets down when the deadline passes, whatever they are blocked on, and the
  call fails as ``ActionTimeoutError`` however slowly the other side sends.

``allow_private_network=True`` (set on the item by an admin; the local demo's fake systems live on 127.0.0.1) lifts
the address rules only; scheme and credential rules always apply. Proxies from the environment are ignored on
purpose: a proxy would resolve the name again, out of our sight.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import threading
import time
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from requests.exceptions import InvalidHeader, InvalidSchema, InvalidURL, MissingSchema
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import Timeout

from callhook.errors import (
    ActionConnectionError,
    ActionResponseTooLargeError,
    ActionTimeoutError,
    ActionTooManyRedirectsError,
    BlockedDestinationError,
)
from callhook.observability import trace_calls_of

trace_calls_of("requests")  # the Tracer patches only the AWS SDK when it is built (callhook.observability)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CHUNK_BYTES = 64 * 1024
# No Accept-Encoding beyond urllib3's "identity": a compressed answer could expand far past max_bytes in one read.
_DEFAULT_HEADERS = {"User-Agent": "callhook-outbound/1", "Accept": "*/*"}
# Headers that carry a credential whoever sets them; they never follow a redirect to another origin.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_ALLOW_HINT = "set allow_private_network on the item to allow it"
# A DNS name (letters, digits, hyphens, underscores, dots), an IPv6 literal (urlsplit strips the brackets) or
# nothing else: percent-escapes, spaces and other oddities in a host are refused rather than guessed at.
_HOSTNAME = re.compile(r"^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_.])?$")
_IPV6_LITERAL = re.compile(r"^[0-9a-f:.]+(?:%[0-9a-z_.-]+)?$")
# A host made of numbers only (decimal, octal or hex parts): inet_aton's reading is the one the OS would use.
_NUMERIC_HOST = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+))*\.?$")

_METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
_V4_RULES: tuple[tuple[ipaddress.IPv4Network, str], ...] = tuple(
    (ipaddress.IPv4Network(net), reason)
    for net, reason in (
        ("0.0.0.0/8", "unspecified address"),
        ("127.0.0.0/8", "loopback address"),
        ("169.254.0.0/16", "link-local address"),
        ("224.0.0.0/4", "multicast address"),
        ("100.64.0.0/10", "carrier-grade NAT address"),
        ("10.0.0.0/8", "private address"),
        ("172.16.0.0/12", "private address"),
        ("192.168.0.0/16", "private address"),
        ("240.0.0.0/4", "reserved address"),  # includes the broadcast address 255.255.255.255
        ("192.0.0.0/24", "IETF protocol assignment address"),
        ("192.0.2.0/24", "documentation address"),
        ("198.51.100.0/24", "documentation address"),
        ("203.0.113.0/24", "documentation address"),
        ("198.18.0.0/15", "benchmarking address"),
        ("192.88.99.0/24", "6to4 relay anycast address"),
    )
)
_V6_RULES: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(net), reason)
    for net, reason in (
        ("::/128", "unspecified address"),
        ("::1/128", "loopback address"),
        ("fe80::/10", "link-local address"),
        ("ff00::/8", "multicast address"),
        ("fc00::/7", "unique local address (ULA)"),
        ("fec0::/10", "site-local address"),
        ("2001:db8::/32", "documentation address"),
        ("100::/64", "discard-only address"),
        ("2001::/32", "Teredo tunnel address"),
        ("64:ff9b:1::/48", "local-use NAT64 address"),
    )
)
_V4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_V4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
_V4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def classify_address(ip: IPAddress | str) -> str | None:
    """Why ``ip`` must not be connected to (e.g. ``"loopback address"``), or None when it is a public address.

    One table for every caller, so the action runner, the recording downloader and the tests agree. IPv6 forms
    that carry an IPv4 address (mapped, translated, compatible, NAT64, 6to4) are judged by that IPv4 address,
    since that is where the packets end up.
    """
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if address in _METADATA_ADDRESSES:
        return "cloud metadata address"
    if isinstance(address, ipaddress.IPv4Address):
        return _classify_v4(address)
    return _classify_v6(address)


def _classify_v4(address: ipaddress.IPv4Address) -> str | None:
    for network, reason in _V4_RULES:
        if address in network:
            return reason
    return None if address.is_global else "non-global address"


def _classify_v6(address: ipaddress.IPv6Address) -> str | None:
    embedded = _embedded_v4(address)
    if embedded is not None:
        kind, v4 = embedded
        reason = classify_address(v4)
        if reason is not None:
            return f"{kind} {reason}"
        if kind in ("IPv4-compatible", "IPv4-translated"):
            return f"deprecated {kind} address"
        return None
    for network, reason in _V6_RULES:
        if address in network:
            return reason
    return None if address.is_global else "non-global address"


def _embedded_v4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _V4_MAPPED:
        return "IPv4-mapped", low32
    if address in _V4_TRANSLATED:
        return "IPv4-translated", low32
    if address in _V4_COMPATIBLE and int(address) > 1:  # :: and ::1 are their own thing
        return "IPv4-compatible", low32
    if address in _NAT64:
        return "NAT64", low32
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    return None


@dataclass(frozen=True)
class OutboundResponse:
    """The final answer after redirects. ``body`` is empty when it was written to ``stream_to``."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    final_url: str
    elapsed: float  # seconds, the whole exchange: every hop and the body


@dataclass(frozen=True)
class _Destination:
    scheme: str
    host: str  # lowercased, IPv6 without brackets
    port: int
    netloc: str  # what the Host header carries
    addresses: tuple[IPAddress, ...]  # every address the name resolved to, all vetted; connections are pinned to them


class _Watchdog:
    """Shuts down every connection of one exchange when its deadline passes.

    A socket timeout bounds each wait for bytes; a peer that sends one byte a second never trips it, and neither
    headers nor body would then end. The watchdog is a timer: at the deadline it shuts the exchange's sockets down
    (``shutdown(2)`` wakes a thread blocked in ``recv`` and ends the stream, for plain and TLS sockets alike, in the
    TLS handshake too), and the exchange reads ``expired`` to report a timeout rather than the reset or short body
    that the shutdown causes.

    Each connection hands over a duplicate of its TCP socket's descriptor as it opens it: the duplicate stays valid
    whatever the connection does with its own (TLS wraps it, http.client closes it while the body is still being
    read), so the timer can never shut down a descriptor that has been reused for something else. The duplicates
    are closed when the exchange ends.
    """

    def __init__(self, deadline: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._stopped = False
        self.expired = False
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self._stopped:
                return
            duplicate = sock.dup()
            self._sockets.append(duplicate)
            if self.expired:
                _shutdown(duplicate)

    def stop(self) -> bool:
        """End the watch (the exchange is over); True when the deadline had passed first."""
        self._timer.cancel()
        with self._lock:
            self._stopped = True
            for duplicate in self._sockets:
                duplicate.close()
            self._sockets.clear()
            return self.expired

    def _expire(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self.expired = True
            for duplicate in self._sockets:
                _shutdown(duplicate)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # not connected, or already shut down by the peer
        sock.shutdown(socket.SHUT_RDWR)


# The exchange whose deadline the connections being opened on this thread serve (set by safe_request).
_EXCHANGE: ContextVar[_Watchdog | None] = ContextVar("callhook_outbound_exchange", default=None)


def _watched(sock: socket.socket) -> socket.socket:
    watchdog = _EXCHANGE.get()
    if watchdog is not None:
        watchdog.watch(sock)
    return sock


class _WatchedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _watched(super()._new_conn())


class _WatchedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _watched(super()._new_conn())


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


# Name resolution has no timeout of its own (the resolver's retries can take tens of seconds): it runs here, and
# the exchange waits for it only until its deadline.
_RESOLVER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="callhook-dns")


def check_destination(url: str, allow_private_network: bool) -> None:
    """Refuse ``url`` unless it may be fetched; the same check ``safe_request`` runs before every hop.

    Raises:
        BlockedDestinationError: a non-http(s) scheme, credentials in the URL, an unusable host, or (unless
            ``allow_private_network``) a resolved address that ``classify_address`` refuses.
        ActionConnectionError: the host does not resolve (``reason`` ``dns`` or ``dns_temporary``).
    """
    _vet(_prepare("GET", url, headers=None, params=None, json=None, auth=None).url or url, allow_private_network)


def safe_request(
    method: str,
    url: str,
    *,
    allow_private_network: bool,
    timeout_s: float,
    max_bytes: int,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    json: Any = None,
    auth: AuthBase | tuple[str, str] | None = None,
    stream_to: BinaryIO | None = None,
    max_redirects: int = 5,
    secret_headers: Collection[str] = (),
    secret_body: bool = False,
) -> OutboundResponse:
    """Send one request with the rules of the module docstring and return the final, non-redirect answer.

    Any status is returned as is (the caller decides what a 4xx or 5xx means); a 3xx without ``Location`` too.
    ``secret_headers`` names the caller's headers that carry a secret (any case): like ``Authorization``, they
    are sent to the first URL's origin only, and dropped from the first redirect that leaves it onwards.
    ``secret_body``: the JSON body carries a secret, so a 307/308 (which resends the body) to another origin is
    refused rather than followed.

    Raises:
        BlockedDestinationError: the URL or a redirect target is refused (nothing was sent to it).
        ActionTimeoutError: connecting, a read, or the whole exchange took longer than ``timeout_s``.
        ActionConnectionError: DNS failure, connection refused or reset, TLS failure (``reason`` says which).
        ActionResponseTooLargeError: the body is larger than ``max_bytes``.
        ActionTooManyRedirectsError: more than ``max_redirects`` redirects.
    """
    started = time.monotonic()
    deadline = started + timeout_s
    watchdog = _Watchdog(deadline)
    token = _EXCHANGE.set(watchdog)
    try:
        return _exchange(
            method, url, started=started, deadline=deadline, watchdog=watchdog,
            allow_private_network=allow_private_network, timeout_s=timeout_s, max_bytes=max_bytes, headers=headers,
            params=params, json=json, auth=auth, stream_to=stream_to, max_redirects=max_redirects,
            secret_headers=secret_headers, secret_body=secret_body,
        )
    finally:
        _EXCHANGE.reset(token)
        watchdog.stop()


def _exchange(
    method: str,
    url: str,
    *,
    started: float,
    deadline: float,
    watchdog: _Watchdog,
    allow_private_network: bool,
    timeout_s: float,
    max_bytes: int,
    headers: Mapping[str, str] | None,
    params: Mapping[str, str] | None,
    json: Any,
    auth: AuthBase | tuple[str, str] | None,
    stream_to: BinaryIO | None,
    max_redirects: int,
    secret_headers: Collection[str],
    secret_body: bool,
) -> OutboundResponse:
    request = _prepare(method, url, headers=headers, params=params, json=json, auth=auth)
    origin = _vet(request.url or url, allow_private_network, deadline=deadline, timeout_s=timeout_s)
    destination = origin
    for hop in range(max_redirects + 1):
        response = _send(request, destination, deadline, timeout_s, watchdog)
        location = response.headers.get("location")
        if response.status_code not in REDIRECT_STATUSES or not location:
            body = _read_body(response, destination, max_bytes, deadline, timeout_s, stream_to, watchdog)
            return OutboundResponse(
                status=response.status_code,
                headers=response.headers,
                body=body,
                final_url=request.url or url,
                elapsed=time.monotonic() - started,
            )
        _dispose(response)
        if hop == max_redirects:
            raise ActionTooManyRedirectsError(
                f"{origin.host} redirected more than {max_redirects} times", host=origin.host, limit=max_redirects
            )
        target = _redirect_target(request.url or url, location, origin.host)
        method, keep_body = _redirect_method(request.method or method, response.status_code)
        same_origin = _origin_of(target) == (origin.scheme, origin.host, origin.port)
        if not same_origin:
            if keep_body and secret_body and json is not None:
                raise BlockedDestinationError(
                    f"{origin.host} redirected ({response.status_code}) to another origin, {_host_for_message(target)}"
                    ", which would receive the request body again; it carries a secret, so the redirect is refused",
                    host=_host_for_message(target),
                    reason="secret body redirected",
                )
            # Once the chain has left the origin, a later hop back to it gets no secret either (as curl does).
            headers = _without_secrets(headers, secret_headers)
            auth = None
        request = _prepare(
            method,
            target,
            headers=_redirect_headers(headers, keep_body=keep_body),
            params=None,
            json=json if keep_body else None,
            auth=auth,
        )
        destination = _vet(request.url or target, allow_private_network, deadline=deadline, timeout_s=timeout_s)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def _prepare(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None,
    params: Mapping[str, str] | None,
    json: Any,
    auth: AuthBase | tuple[str, str] | None,
) -> requests.PreparedRequest:
    """Let requests normalise the URL (IDNA, quoting) first, so the URL that is vetted is the URL that is sent."""
    try:
        return requests.Request(
            method.upper(),
            url,
            headers={**_DEFAULT_HEADERS, **(headers or {})},
            params=dict(params or {}),
            json=json,
            auth=auth,
        ).prepare()
    except (InvalidURL, MissingSchema, InvalidSchema) as exc:
        raise BlockedDestinationError(
            f"invalid URL refused ({type(exc).__name__})", host=_host_for_message(url), reason="invalid URL"
        ) from exc
    except (InvalidHeader, ValueError, UnicodeError) as exc:
        # The message of InvalidHeader quotes the header value, which may be a secret: only the type is kept.
        raise ActionConnectionError(
            f"request to {_host_for_message(url)} could not be built ({type(exc).__name__})",
            host=_host_for_message(url),
            reason="invalid_request",
        ) from None


def _host_for_message(url: str) -> str:
    """The host of ``url`` for messages, never its path or query (which may carry secrets or personal data)."""
    try:
        return urlsplit(url).hostname or "(no host)"
    except ValueError:
        return "(unparsable URL)"


def _vet(
    url: str, allow_private_network: bool, *, deadline: float | None = None, timeout_s: float = 0
) -> _Destination:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise BlockedDestinationError("invalid URL refused", host="(unparsable URL)", reason="invalid URL") from exc
    scheme = parts.scheme.lower()
    host_text = _host_for_message(url)
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedDestinationError(
            f"scheme {scheme or '(none)'!r} refused for {host_text}; only http and https are allowed",
            host=host_text,
            reason="scheme",
        )
    if "@" in parts.netloc:
        raise BlockedDestinationError(
            f"credentials in the URL refused for {host_text}; put them in the item's secrets and headers",
            host=host_text,
            reason="credentials in URL",
        )
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError as exc:
        raise BlockedDestinationError(f"invalid port in URL for {host}", host=host, reason="invalid URL") from exc
    if not host or not (_HOSTNAME.fullmatch(host) or (":" in host and _IPV6_LITERAL.fullmatch(host))):
        raise BlockedDestinationError(f"host {host!r} refused: not a valid host name", host=host, reason="invalid host")
    addresses = _resolve(host, port, deadline=deadline, timeout_s=timeout_s)
    if not allow_private_network:
        for address in addresses:
            reason = classify_address(address)
            if reason is not None:
                via = "" if _is_literal(host, address) else f" (resolved from {host})"
                raise BlockedDestinationError(
                    f"{reason} {address}{via} refused; {_ALLOW_HINT}", host=host, address=str(address), reason=reason
                )
    return _Destination(scheme=scheme, host=host, port=port, netloc=parts.netloc, addresses=tuple(addresses))


def _is_literal(host: str, address: IPAddress) -> bool:
    try:
        return ipaddress.ip_address(host) == address
    except ValueError:
        return False


def _resolve(host: str, port: int, *, deadline: float | None = None, timeout_s: float = 0) -> list[IPAddress]:
    """The addresses a connection to ``host`` could use; numeric forms are read as the OS reads them, without DNS.
    With a ``deadline``, a lookup still running when it passes is a timeout (phase ``dns``)."""
    literal = _literal_address(host)
    if literal is not None:
        return [literal]
    try:
        if deadline is None:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        else:
            lookup = _RESOLVER.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
            try:
                infos = lookup.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeoutError:
                lookup.cancel()
                raise ActionTimeoutError(
                    f"{host} did not resolve within {timeout_s:g}s", host=host, timeout_s=timeout_s, phase="dns"
                ) from None
    except socket.gaierror as exc:
        temporary = exc.errno == socket.EAI_AGAIN
        raise ActionConnectionError(
            f"DNS lookup for {host} failed ({exc.strerror})", host=host, reason="dns_temporary" if temporary else "dns"
        ) from exc
    except UnicodeError as exc:
        raise BlockedDestinationError(
            f"host {host!r} refused: not a valid host name", host=host, reason="invalid host"
        ) from exc
    addresses: list[IPAddress] = []
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            address = ipaddress.ip_address(str(sockaddr[0]))
            if address not in addresses:
                addresses.append(address)
    if not addresses:
        raise ActionConnectionError(f"DNS lookup for {host} returned no address", host=host, reason="dns")
    return addresses


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not _NUMERIC_HOST.fullmatch(host):
        return None
    try:
        # glibc's getaddrinfo reads numeric hosts with inet_aton too; doing it here keeps such hosts off DNS.
        return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
    except OSError as exc:
        raise BlockedDestinationError(
            f"host {host!r} refused: numeric but not an IPv4 address", host=host, reason="invalid host"
        ) from exc


class _PinnedAdapter(HTTPAdapter):
    """Connects to one vetted address while the request keeps its host name (Host header, SNI, certificate)."""

    def __init__(self, destination: _Destination, address: IPAddress) -> None:
        self._destination = destination
        self._address = address
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        # Connections that the exchange's watchdog can shut down at its deadline.
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPConnectionPool,
            "https": _WatchedHTTPSConnectionPool,
        }

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> Any:  # requests' private TypedDicts; the pool kwargs gain server_hostname, which they do not declare
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params["host"] = str(self._address)
        host_params["port"] = self._destination.port
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = self._destination.host  # type: ignore[typeddict-unknown-key]  # SNI
        return host_params, pool_kwargs


def _send_pinned(
    request: requests.PreparedRequest, destination: _Destination, address: IPAddress, remaining: float
) -> requests.Response:
    adapter = _PinnedAdapter(destination, address)
    try:
        # A urllib3 Timeout (which requests accepts, its stubs say otherwise) bounds connect + headers together.
        timeout = Timeout(total=remaining)
        return adapter.send(request, stream=True, timeout=timeout, verify=True, proxies={})  # type: ignore[arg-type]
    except BaseException:
        adapter.close()
        raise


def _send(
    request: requests.PreparedRequest,
    destination: _Destination,
    deadline: float,
    timeout_s: float,
    watchdog: _Watchdog,
) -> requests.Response:
    """One hop, pinned to each vetted address in turn until one accepts the connection (as urllib3 itself would
    try each address of a name); an address is only left behind when nothing was sent to it."""
    request.headers["Host"] = destination.netloc
    for index, address in enumerate(destination.addresses):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ActionTimeoutError(
                f"{destination.host} did not answer within {timeout_s:g}s", host=destination.host, timeout_s=timeout_s
            )
        try:
            return _send_pinned(request, destination, address, remaining)
        except requests.exceptions.RequestException as exc:
            if watchdog.expired:  # the reset or short answer is the watchdog's doing
                raise ActionTimeoutError(
                    f"{destination.host} did not answer within {timeout_s:g}s (read)",
                    host=destination.host,
                    timeout_s=timeout_s,
                    phase="read",
                ) from exc
            if index + 1 < len(destination.addresses) and _failed_to_connect(exc):
                continue
            raise _transport_error(exc, destination, address, timeout_s) from exc
    raise AssertionError("unreachable: a destination has at least one address")  # pragma: no cover


def _failed_to_connect(exc: requests.exceptions.RequestException) -> bool:
    """True when the connection was never established, so nothing of the request was sent."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.exceptions.ConnectionError) and isinstance(
        reason, urllib3.exceptions.NewConnectionError
    )


def _transport_error(
    exc: requests.exceptions.RequestException, destination: _Destination, address: IPAddress, timeout_s: float
) -> ActionTimeoutError | ActionConnectionError:
    host = destination.host
    if isinstance(exc, requests.exceptions.Timeout):
        phase = "connect" if isinstance(exc, requests.exceptions.ConnectTimeout) else "read"
        return ActionTimeoutError(
            f"{host} did not answer within {timeout_s:g}s ({phase})", host=host, timeout_s=timeout_s, phase=phase
        )
    if isinstance(exc, requests.exceptions.SSLError):
        return ActionConnectionError(f"TLS with {host} failed", host=host, address=str(address), reason="tls")
    return ActionConnectionError(
        f"connection to {host} ({address} port {destination.port}) failed",
        host=host,
        address=str(address),
        reason="refused",
    )


def _read_body(
    response: requests.Response,
    destination: _Destination,
    max_bytes: int,
    deadline: float,
    timeout_s: float,
    stream_to: BinaryIO | None,
    watchdog: _Watchdog,
) -> bytes:
    """Stream the body, stopping as soon as it passes ``max_bytes`` or the deadline (a slow drip is a timeout: the
    watchdog cuts a read that is still waiting at the deadline, and a body it cut short is never returned)."""
    try:
        declared = int(response.headers.get("content-length", ""))
    except ValueError:
        declared = None
    chunks: list[bytes] = []
    total = 0
    try:
        if declared is not None and declared > max_bytes:
            raise _too_large(destination, max_bytes)
        for chunk in response.raw.stream(_CHUNK_BYTES, decode_content=True):
            total += len(chunk)
            if total > max_bytes:
                raise _too_large(destination, max_bytes)
            if watchdog.expired or time.monotonic() > deadline:
                raise _body_timeout(destination, timeout_s)
            if stream_to is not None:
                stream_to.write(chunk)
            else:
                chunks.append(chunk)
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise _body_timeout(destination, timeout_s) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        if watchdog.expired:
            raise _body_timeout(destination, timeout_s) from exc
        raise ActionConnectionError(
            f"reading the answer of {destination.host} failed", host=destination.host, reason="refused"
        ) from exc
    finally:
        _dispose(response)
    if watchdog.stop():  # a close-delimited body the watchdog cut short reads as complete
        raise _body_timeout(destination, timeout_s)
    return b"".join(chunks)


def _body_timeout(destination: _Destination, timeout_s: float) -> ActionTimeoutError:
    return ActionTimeoutError(
        f"{destination.host} did not finish answering within {timeout_s:g}s",
        host=destination.host,
        timeout_s=timeout_s,
        phase="body",
    )


def _dispose(response: requests.Response) -> None:
    """Close the response and its one-off adapter (requests keeps the adapter as ``response.connection``)."""
    response.close()
    adapter = getattr(response, "connection", None)
    if adapter is not None:
        adapter.close()


def _redirect_target(current_url: str, location: str, origin_host: str) -> str:
    try:
        return urljoin(current_url, _decode_location(location)).split("#", 1)[0]
    except ValueError as exc:
        raise BlockedDestinationError(
            f"{origin_host} redirected to an invalid URL", host=origin_host, reason="invalid URL"
        ) from exc


def _too_large(destination: _Destination, max_bytes: int) -> ActionResponseTooLargeError:
    return ActionResponseTooLargeError(
        f"the answer of {destination.host} is larger than {max_bytes} bytes", host=destination.host, max_bytes=max_bytes
    )


def _decode_location(location: str) -> str:
    """Headers arrive as latin-1; servers usually meant UTF-8 (requests does the same)."""
    try:
        return location.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return location


def _origin_of(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


def _redirect_method(method: str, status: int) -> tuple[str, bool]:
    """The method of the next hop and whether the body goes with it (RFC 9110 §15.4, as browsers do)."""
    if status == 303 and method != "HEAD":
        return "GET", False
    if status in (301, 302) and method == "POST":
        return "GET", False
    return method, status in (307, 308)


def _without_secrets(headers: Mapping[str, str] | None, secret_headers: Collection[str]) -> dict[str, str]:
    dropped = CREDENTIAL_HEADERS | {name.lower() for name in secret_headers}
    return {k: v for k, v in (headers or {}).items() if k.lower() not in dropped}


def _redirect_headers(headers: Mapping[str, str] | None, *, keep_body: bool) -> dict[str, str]:
    dropped = {"host", "content-length"}
    if not keep_body:
        dropped |= {"content-type"}
    return {k: v for k, v in (headers or {}).items() if k.lower() not in dropped}
