"""The one clock every module stamps with (ISO 8601 UTC, microseconds): imports nothing, so services use it too."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
