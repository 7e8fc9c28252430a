"""Idle execution environments are retired after a time to live, as Lambda retires them: the
next invocation starts cold; busy environments and concurrency limits are untouched."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pizzabus.clock import ManualClock
from pizzabus.functions import FunctionRuntime
from pizzabus.system import Function
from pizzabus.telemetry.recorder import NullRecorder

TTL = 60.0

GATE = """
    import threading
    opened = threading.Event()
    running = 0
    peak = 0
    lock = threading.Lock()
"""

HANDLERS = {
    "quick.py": """
        def lambda_handler(event, context):
            return "done"
    """,
    "gated.py": """
        import retirement_gate as gate
        def lambda_handler(event, context):
            with gate.lock:
                gate.running += 1
                gate.peak = max(gate.peak, gate.running)
            try:
                gate.opened.wait(30)
            finally:
                with gate.lock:
                    gate.running -= 1
            return "done"
    """,
}


class Inits(NullRecorder):
    """The Init Duration of each invocation (None when it ran warm)."""

    def __init__(self) -> None:
        self.seen: list[float | None] = []

    def invoked(self, *args: Any) -> None:
        self.seen.append(args[4])


@pytest.fixture
def code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "retirement_gate.py").write_text(textwrap.dedent(GATE))
    monkeypatch.syspath_prepend(str(shared))
    monkeypatch.delitem(sys.modules, "retirement_gate", raising=False)
    folder = tmp_path / "code"
    folder.mkdir()
    for name, source in HANDLERS.items():
        (folder / name).write_text(textwrap.dedent(source))
    return folder


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def inits() -> Inits:
    return Inits()


@pytest.fixture
async def runtime(code: Path, clock: ManualClock, inits: Inits) -> AsyncIterator[FunctionRuntime]:
    functions = (
        Function("quick", code, "quick.lambda_handler"),
        # Lambda's longest timeout: the tests move the clock by many TTLs while it runs.
        Function(
            "gated",
            code,
            "gated.lambda_handler",
            reserved_concurrency=2,
            timeout=timedelta(seconds=900),
        ),
    )
    runtime = FunctionRuntime(
        functions,
        overrides=lambda function: {},
        resolve_endpoint=lambda endpoint: "",
        clock=clock,
        telemetry=inits,
        idle_ttl=TTL,
    )
    runtime.bind()
    try:
        yield runtime
    finally:
        runtime.close()


async def _sweep_waits(clock: ManualClock, sleepers: int = 1) -> None:
    """Until the retirement sweep (and any invocation's timeout) sleeps on the clock."""
    for _ in range(10_000):  # a failure guard, not a timing
        if clock.pending_sleepers >= sleepers:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{clock.pending_sleepers} sleepers on the clock, expected {sleepers}")


def _threads(function: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"pizzabus-{function}-")]


async def test_an_environment_idle_past_the_ttl_is_retired_and_the_next_invocation_is_cold(
    runtime: FunctionRuntime, clock: ManualClock, inits: Inits
) -> None:
    assert await runtime.invoke("quick", b"{}") == "done"
    assert await runtime.invoke("quick", b"{}") == "done"
    assert inits.seen[0] is not None  # the first invocation loaded the code
    assert inits.seen[1] is None  # the second ran warm
    await _sweep_waits(clock)
    await clock.advance(TTL - 1)
    assert runtime.environments()["quick"] == {"warm": 1, "retired": 0}

    await clock.advance(1)
    assert runtime.environments()["quick"] == {"warm": 0, "retired": 1}
    for thread in _threads("quick"):
        thread.join(timeout=10)  # its thread ends (a guard against a hang, not a timing)
        assert not thread.is_alive()
    assert await runtime.invoke("quick", b"{}") == "done"
    assert inits.seen[2] is not None  # a cold start again: Init Duration in its REPORT
    assert runtime.environments()["quick"] == {"warm": 1, "retired": 1}


async def test_a_busy_environment_is_never_retired_and_goes_once_idle_past_the_ttl(
    runtime: FunctionRuntime, clock: ManualClock
) -> None:
    import retirement_gate as gate  # type: ignore[import-not-found]

    running = asyncio.ensure_future(runtime.invoke("gated", b"{}"))
    await _sweep_waits(clock)  # the invocation's timeout timer
    await clock.advance(10 * TTL)
    assert not running.done()
    assert runtime.environments()["gated"] == {"warm": 1, "retired": 0}
    gate.opened.set()
    assert await running == "done"
    await _sweep_waits(clock)
    await clock.advance(TTL)
    assert runtime.environments()["gated"] == {"warm": 0, "retired": 1}


async def test_the_longest_idle_environment_goes_first_and_a_reused_one_stays(
    runtime: FunctionRuntime, clock: ManualClock
) -> None:
    import retirement_gate as gate

    gate.opened.set()
    await asyncio.gather(runtime.invoke("gated", b"{}"), runtime.invoke("gated", b"{}"))
    assert runtime.environments()["gated"] == {"warm": 2, "retired": 0}
    await _sweep_waits(clock)
    await clock.advance(TTL / 2)
    await runtime.invoke("gated", b"{}")  # reuses the environment idle the shortest time
    await clock.advance(TTL / 2)
    assert runtime.environments()["gated"] == {"warm": 1, "retired": 1}
    await clock.advance(TTL / 2)
    assert runtime.environments()["gated"] == {"warm": 0, "retired": 2}


async def test_reserved_concurrency_still_bounds_invocations_after_retirements(
    runtime: FunctionRuntime, clock: ManualClock
) -> None:
    import retirement_gate as gate

    gate.opened.set()
    await asyncio.gather(*(runtime.invoke("gated", b"{}") for _ in range(4)))
    await _sweep_waits(clock)
    await clock.advance(TTL)
    assert runtime.environments()["gated"] == {"warm": 0, "retired": 2}
    gate.opened.clear()
    gate.peak = 0
    calls = [asyncio.ensure_future(runtime.invoke("gated", b"{}")) for _ in range(6)]
    for _ in range(10_000):  # a failure guard, not a timing
        if gate.running == 2:
            break
        await asyncio.sleep(0.001)
    assert runtime.concurrency()["gated"] == 2
    gate.opened.set()
    assert await asyncio.gather(*calls) == ["done"] * 6
    assert gate.peak == 2
    assert runtime.concurrency()["gated"] == 0
    assert runtime.environments()["gated"] == {"warm": 2, "retired": 2}


async def test_with_nothing_idle_the_sweep_holds_no_timer(
    runtime: FunctionRuntime, clock: ManualClock
) -> None:
    for _ in range(10):
        await asyncio.sleep(0)
    assert clock.pending_sleepers == 0  # nothing idle yet: no timer to wake it
    await runtime.invoke("quick", b"{}")
    await _sweep_waits(clock)
    assert clock.pending_sleepers == 1  # one timer, for the one idle environment
    await clock.advance(7 * 24 * 3600)  # a week: one wake-up, one retirement
    for _ in range(10):
        await asyncio.sleep(0)
    assert runtime.environments()["quick"] == {"warm": 0, "retired": 1}
    assert clock.pending_sleepers == 0


async def test_no_ttl_keeps_environments_warm_for_good(code: Path, clock: ManualClock) -> None:
    runtime = FunctionRuntime(
        (Function("quick", code, "quick.lambda_handler"),),
        overrides=lambda function: {},
        resolve_endpoint=lambda endpoint: "",
        clock=clock,
        idle_ttl=None,
    )
    runtime.bind()
    try:
        await runtime.invoke("quick", b"{}")
        await clock.advance(7 * 24 * 3600)
        assert runtime.environments()["quick"] == {"warm": 1, "retired": 0}
    finally:
        runtime.close()
