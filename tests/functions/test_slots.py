"""A function's concurrency slots: taken at once when free, waited for in turn otherwise."""

from __future__ import annotations

import asyncio

from pizzabus.functions.slots import Slots


async def test_free_slots_are_taken_without_waiting_until_none_is_left() -> None:
    slots = Slots(2)
    assert slots.try_take()
    assert slots.try_take()
    assert not slots.try_take()
    slots.give()
    assert slots.free == 1


async def test_waiters_are_served_in_turn_and_a_given_slot_goes_straight_to_the_next() -> None:
    slots = Slots(1)
    await slots.take()
    served: list[int] = []

    async def wait(n: int) -> None:
        await slots.take()
        served.append(n)

    waiters = [asyncio.create_task(wait(n)) for n in range(3)]
    await asyncio.sleep(0)
    assert not slots.try_take()  # someone is waiting: no jumping the queue
    for expected in range(3):
        slots.give()
        await asyncio.sleep(0)
        assert served == list(range(expected + 1))
        assert slots.free == 0
    await asyncio.gather(*waiters)
    slots.give()
    assert slots.free == 1


async def test_a_cancelled_waiter_leaves_the_queue_and_loses_no_slot() -> None:
    slots = Slots(1)
    await slots.take()
    cancelled = asyncio.create_task(slots.take())
    after = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    slots.give()  # goes to the waiter still there
    await after
    assert cancelled.cancelled()
    slots.give()
    assert slots.free == 1


async def test_a_waiter_cancelled_just_after_being_given_a_slot_passes_it_on() -> None:
    slots = Slots(1)
    await slots.take()
    first = asyncio.create_task(slots.take())
    second = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    slots.give()  # handed to `first`, which has not run yet
    first.cancel()  # ... and is cancelled before it does
    await asyncio.sleep(0)
    await second  # the slot was passed on, not lost
    slots.give()
    assert slots.free == 1
