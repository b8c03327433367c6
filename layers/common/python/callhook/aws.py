"""Cached boto3 clients. Clients are thread-safe (resources are not), so the repositories use clients.

The endpoint comes from boto3's own `AWS_ENDPOINT_URL` support: the local stack sets it, AWS leaves it unset.
"""

from __future__ import annotations

import functools
import threading
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=10)
_lock = threading.Lock()


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


def client(service: str) -> Any:
    """One client per service per process; creation is serialised because boto3 sessions are not thread-safe."""
    with _lock:
        return _client(service)


@functools.cache
def _client(service: str) -> Any:
    return _session().client(service, config=_CONFIG)  # type: ignore[call-overload]


def reset_clients() -> None:
    """Tests that switch endpoints or credentials call this."""
    _client.cache_clear()
    _session.cache_clear()


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
