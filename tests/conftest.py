"""Fixtures shared by every suite.

Suites: tests/unit (no AWS, or moto's in-process mock), tests/integration and tests/e2e (the local stack: moto
server + our handlers in-process, real HTTP). The local stack shares moto's global backends, so `mock_aws` must not
run once it is up: pytest runs tests/unit first (testpaths order) and the `aws_mock` fixture refuses otherwise.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from callhook_local.fake_pbx import FakePBX, start_fake_pbx
from callhook_local.stack import LocalStack
from tests.support.stack import StackClient

_STACK: LocalStack | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    global _STACK  # noqa: PLW0603
    saved = dict(os.environ)
    _STACK = LocalStack(aws_port=free_port(), api_port=free_port(), name="callhook-test").start()
    yield _STACK
    _STACK.stop()
    os.environ.clear()
    os.environ.update(saved)


def local_stack_running() -> bool:
    return _STACK is not None


@pytest.fixture(scope="session")
def stack(local_stack: LocalStack) -> StackClient:
    return StackClient(local_stack)


@pytest.fixture(scope="session")
def pbx() -> Iterator[FakePBX]:
    with start_fake_pbx() as server:
        yield server
