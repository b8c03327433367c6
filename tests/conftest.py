"""Fixtures shared by every suite.

Suites: tests/unit (no AWS, or moto's in-process mock), tests/integration and tests/e2e (the local stack: moto
server + our handlers in-process, real HTTP). The local stack shares moto's global backends, so `mock_aws` must not
run once it is up: pytest runs tests/unit first (testpaths order) and the `aws_mock` fixture refuses otherwise.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator

import pytest

from callhook_local.template import load_template

# Powertools reads its service name and metrics namespace when callhook.observability is first imported, which in
# a test session is at collection time: give the process the values the template's Globals give every function.
for _key, _value in load_template()["Globals"]["Function"]["Environment"]["Variables"].items():
    if _key.startswith("POWERTOOLS_") and isinstance(_value, str):
        os.environ.setdefault(_key, _value)

from callhook_local.fake_pbx import FakePBX, start_fake_pbx  # noqa: E402
from callhook_local.stack import LocalStack  # noqa: E402
from tests.support.stack import StackClient  # noqa: E402

_STACK: LocalStack | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    global _STACK
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


@pytest.fixture(scope="session")
def demo(stack: StackClient, pbx: FakePBX) -> FakePBX:
    """The demo directory (operators 1 root, 17 ann@example.com, 18 bob@example.com inactive; topics online and
    offline), the demo action `demo-pbx-lookup` calling the fake PBX and its secret in SSM. Returns the fake PBX."""
    from callhook_local.demo import seed_demo

    seed_demo(stack.stack, pbx)
    return pbx


@pytest.fixture
def keep_settings(stack: StackClient) -> Iterator[Callable[..., None]]:
    """Change the KeepRecording function's environment for one test, as an operator does (Lambda's
    UpdateFunctionConfiguration): its next invocations run in new sandboxes with the new variables."""
    lam = stack.stack.client("lambda")
    name = stack.stack.physical("KeepRecordingFunction")
    before = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]

    def change(**env: str) -> None:
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": {**before, **env}})
    yield change
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": before})
