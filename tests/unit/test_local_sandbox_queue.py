"""The local stack's sandbox pool at its cap: invocations are served in arrival order, and a waiter past
`throttle_after_s` is throttled and leaves the line (local/callhook_local/sandbox.py).

The pool's own logic, over sandboxes that are objects instead of processes: whether an invocation queued at the cap
is served before one that arrives later cannot be timed reliably through real processes. Real sandboxes at the cap
are in tests/integration/test_local_sandboxes.py.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from callhook_local import sandbox as sandbox_module
from callhook_local.sandbox import Outcome, Sandboxes, Spec, Throttled

FUNCTION = "probe"
SPEC = Spec(function_name=FUNCTION, module="m", attribute="handler", module_label="m", env=(), timeout_s=3,
            memory_mb=128)


class ObjectSandbox:
    """A sandbox whose invocation records its event and, for {"hold": event}, waits until that event is set."""

    served: list[str] = []

    def __init__(self, image: Any, spec: Spec, function_arn: str, cpu_group: Any = None) -> None:
        self.spec, self.alive, self.last_used = spec, True, time.monotonic()

    def invoke(self, event: Any) -> Outcome:
        ObjectSandbox.served.append(event["name"])
        if "hold" in event:
            event["hold"].wait(5)
        if event.get("die"):
            self.alive = False
        return Outcome(payload="{}", errored=False, logs="")

    def kill(self) -> int:
        self.alive = False
        return 0


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Sandboxes:
    monkeypatch.setattr(sandbox_module, "Sandbox", ObjectSandbox)
    monkeypatch.setattr(Sandboxes, "image", property(lambda self: None))
    ObjectSandbox.served = []
    sandboxes = Sandboxes(max_per_function=1, throttle_after_s=5)
    yield sandboxes
    sandboxes.stop()


def _in_background(sandboxes: Sandboxes, event: dict[str, Any]) -> threading.Thread:
    thread = threading.Thread(target=sandboxes.invoke, args=(SPEC, "arn", event))
    thread.start()
    return thread


def _until_waiting(sandboxes: Sandboxes, n: int) -> None:
    deadline = time.monotonic() + 5
    while len(sandboxes.pool(FUNCTION).waiters) < n:
        assert time.monotonic() < deadline, "the invocation never queued"
        time.sleep(0.005)


def test_waiters_at_the_cap_are_served_in_arrival_order_and_a_newcomer_does_not_jump_the_line(
        pool: Sandboxes) -> None:
    release = threading.Event()

    def first_then_again() -> None:  # the releasing thread asks again at once: it holds the interpreter then
        pool.invoke(SPEC, "arn", {"name": "first", "hold": release})
        pool.invoke(SPEC, "arn", {"name": "newcomer"})

    threads = [threading.Thread(target=first_then_again)]
    threads[0].start()
    while not ObjectSandbox.served:
        time.sleep(0.005)
    for i, name in enumerate(["w1", "w2", "w3"], start=1):  # each queued before the next arrives
        threads.append(_in_background(pool, {"name": name}))
        _until_waiting(pool, i)
    release.set()
    for thread in threads:
        thread.join(5)
    assert ObjectSandbox.served == ["first", "w1", "w2", "w3", "newcomer"]
    assert pool.pool(FUNCTION).started == 1  # one sandbox, handed from each to the next: all warm
    assert pool.pool(FUNCTION).busy == 0 and len(pool.pool(FUNCTION).free) == 1


def test_a_waiter_past_the_wait_is_throttled_and_leaves_the_line(pool: Sandboxes) -> None:
    pool.throttle_after_s = 0.2
    release = threading.Event()
    holder = _in_background(pool, {"name": "first", "hold": release})
    while not ObjectSandbox.served:
        time.sleep(0.005)
    with pytest.raises(Throttled):
        pool.invoke(SPEC, "arn", {"name": "late"})
    assert not pool.pool(FUNCTION).waiters
    release.set()
    holder.join(5)
    pool.invoke(SPEC, "arn", {"name": "after"})  # the sandbox went back to the pool, not to the one that left
    assert ObjectSandbox.served == ["first", "after"]


def test_when_the_sandbox_dies_its_slot_goes_to_the_oldest_waiter_who_starts_a_new_one(pool: Sandboxes) -> None:
    release = threading.Event()
    holder = _in_background(pool, {"name": "first", "hold": release, "die": True})
    while not ObjectSandbox.served:
        time.sleep(0.005)
    waiter = _in_background(pool, {"name": "w1"})
    _until_waiting(pool, 1)
    release.set()
    holder.join(5)
    waiter.join(5)
    assert ObjectSandbox.served == ["first", "w1"]
    assert pool.pool(FUNCTION).started == 2 and pool.pool(FUNCTION).busy == 0
