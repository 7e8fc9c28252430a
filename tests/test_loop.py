"""Waiting from a handler's thread on work run by the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from pizzabus.loop import wait_on_loop


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running on a thread of its own, as a worker's is to its handlers."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_the_coroutines_result_comes_back_to_the_waiting_thread(
    loop: asyncio.AbstractEventLoop,
) -> None:
    ran_on: list[int] = []

    async def answer() -> str:
        ran_on.append(threading.get_ident())
        await asyncio.sleep(0)
        return "stored"

    assert wait_on_loop(loop, answer(), timeout=10) == "stored"
    assert len(ran_on) == 1
    assert ran_on[0] != threading.get_ident()


def test_the_coroutines_error_is_raised_in_the_waiting_thread(
    loop: asyncio.AbstractEventLoop,
) -> None:
    async def refuse() -> None:
        raise ValueError("the event could not be stored")

    with pytest.raises(ValueError, match="could not be stored"):
        wait_on_loop(loop, refuse(), timeout=10)


def test_a_coroutine_that_never_ends_times_out_and_is_cancelled(
    loop: asyncio.AbstractEventLoop,
) -> None:
    cancelled = threading.Event()
    never = asyncio.Event()

    async def hang() -> None:
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError, match=r"within 0\.05 s"):
        wait_on_loop(loop, hang(), timeout=0.05)
    assert cancelled.wait(10)
