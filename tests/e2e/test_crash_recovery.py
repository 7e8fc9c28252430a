"""Acknowledged orders survive kill -9: every one is delivered, each stage in order."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.orders import STAGES, new_order
from tests.e2e.server import Server, start_server

pytestmark = pytest.mark.e2e

KILLS = 3
#: Orders acknowledged in each round before its kill -9.
PER_ROUND = 10


async def _load(server: Server, acknowledged: list[str], stop: asyncio.Event) -> None:
    """Post orders continuously (8 at a time) until told to stop or the server dies."""
    async with httpx.AsyncClient(timeout=5) as client:

        async def one() -> None:
            while not stop.is_set():
                order = new_order()
                try:
                    response = await client.post(server.url + "/", json=order)
                except httpx.TransportError:
                    return  # the server died under us: this order was never acknowledged
                body = response.json()
                if response.status_code == 200 and body["FailedEntryCount"] == 0:
                    acknowledged.append(order["item"]["order_id"])

        await asyncio.gather(*(one() for _ in range(8)))


@pytest.mark.timeout(300)
async def test_every_acknowledged_order_is_delivered_across_three_kill_9s(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    acknowledged: list[str] = []
    for _ in range(KILLS):
        server = start_server(("--data-dir", str(data)))
        stop = asyncio.Event()
        load = asyncio.create_task(_load(server, acknowledged, stop))
        # Kill once this round has some acknowledged orders, however slow the machine is.
        wanted = len(acknowledged) + PER_ROUND
        deadline = time.monotonic() + 60  # a failure guard only
        while len(acknowledged) < wanted and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        server.stop(signal.SIGKILL)  # kill -9, mid-flight
        stop.set()
        await load

    server = start_server(("--data-dir", str(data)))
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            deadline = time.monotonic() + 60
            timelines: dict[str, list[str]] = {}
            pending = list(acknowledged)
            while pending and time.monotonic() < deadline:
                for order_id in list(pending):
                    response = await client.get(f"{server.url}/orders/{order_id}")
                    stages = (
                        [e["item"]["eventtype"] for e in response.json()["events"]]
                        if response.status_code == 200
                        else []
                    )
                    timelines[order_id] = stages
                    if "delivered" in stages:
                        pending.remove(order_id)
                if pending:
                    await asyncio.sleep(0.5)
    finally:
        server.stop()

    lost = [o for o in acknowledged if "delivered" not in timelines.get(o, [])]
    print(f"accepted {len(acknowledged)}, lost {len(lost)}")
    assert len(acknowledged) >= KILLS * PER_ROUND  # the load really ran
    assert lost == []
    # Each stage in order. (A timeline is keyed by stage, so it cannot list one twice: that
    # redelivered stages reach sockets and handlers once is proven in test_no_double_effects,
    # test_orders_protocol and test_delivery_guarantees, where a double would show.)
    assert all(timelines[o] == STAGES for o in acknowledged)
