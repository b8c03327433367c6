"""Cached boto3 clients. Clients are thread-safe (resources are not), so the repositories use clients.

The endpoint comes from boto3's own `AWS_ENDPOINT_URL` support: the local stack sets it, AWS leaves it unset.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config


@dataclass(frozen=True)
class ClientLimits:
    """How long one AWS call may take: its attempts (botocore's standard retry mode, backoff included) and the
    socket timeouts of each attempt."""

    total_attempts: int = 4  # the first and three retries (botocore's `max_attempts` counts only the retries)
    connect_timeout_s: float = 2
    read_timeout_s: float = 10

    def config(self) -> Config:
        return Config(retries={"mode": "standard", "total_max_attempts": self.total_attempts},
                      connect_timeout=self.connect_timeout_s, read_timeout=self.read_timeout_s)


DEFAULT_LIMITS = ClientLimits()
# Ingest answers a provider that gives up after 5 s (Vonage, Dialpad; Twilio 15 s) and mostly never retries a 5xx.
# With the default limits a throttled dialog store and spool took 4-9 s together on the local stack (two calls, four
# attempts and three backoffs each), up to Ingest's 10 s Timeout: a 5xx without a reason. With these, a store that
# fails twice is spooled and a spool that fails twice is a 503 `temporarily_unavailable`, in 1.1-1.5 s locally.
WEBHOOK_ANSWER_LIMITS = ClientLimits(total_attempts=2, connect_timeout_s=1, read_timeout_s=2)

_limits = DEFAULT_LIMITS
_lock = threading.Lock()


def use_limits(limits: ClientLimits) -> None:
    """A composition root whose caller is waiting sets its limits once, before its first call (clients made
    earlier are dropped)."""
    global _limits
    with _lock:
        if limits != _limits:
            _limits = limits
            _client.cache_clear()
            _made.clear()


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


def client(service: str) -> Any:
    """One client per service per process; creation is serialised because boto3 sessions are not thread-safe."""
    with _lock:
        return _client(service)


@functools.cache
def _client(service: str) -> Any:
    made = _session().client(service, config=_limits.config())  # type: ignore[call-overload]
    _made[service] = made
    return made


_made: dict[str, Any] = {}  # the clients _client holds, by service (functools.cache does not list them)


def reset_clients() -> None:
    """Tests that switch endpoints or credentials call this."""
    _client.cache_clear()
    _session.cache_clear()
    _made.clear()


def renew_clients() -> None:
    """New sessions and clients, made at once, for a process resumed from a SnapStart snapshot (an after-restore
    hook). A client made before the snapshot holds what must not be shared by the sandboxes restored from it: its
    pooled connections (sockets of the snapshotted sandbox, long closed by the other end) and the temporary
    credentials resolved then. The service models and endpoint rules the old session loaded are kept (its data
    loader): loading them is most of a first call's cost, which the snapshot is there to save."""
    with _lock:
        services = list(_made)
        loader = _session()._session.get_component("data_loader") if _session.cache_info().currsize else None
        for old in _made.values():
            old.close()
        reset_clients()
        if loader is not None:
            _session()._session.register_component("data_loader", loader)
        for service in services:
            _client(service)


_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_dynamo_value(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo_value(v) for v in value]
    return value


def _from_dynamo_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_from_dynamo_value(v) for v in value]
    return value


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    """Plain JSON-like dict -> DynamoDB attribute values (floats become Decimals)."""
    return {k: _serializer.serialize(_to_dynamo_value(v)) for k, v in data.items()}


def to_value(value: Any) -> Any:
    return _serializer.serialize(_to_dynamo_value(value))


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values -> plain dict (integral Decimals become ints)."""
    return {k: _from_dynamo_value(_deserializer.deserialize(v)) for k, v in item.items()}
