"""A handler that raises, exits or hangs fails its own invocation, and nothing else."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest
import websockets

from tests.e2e.orders import STAGES, collect, new_order
from tests.e2e.server import Server, start_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def chaos_server() -> Iterator[Server]:
    running = start_server(("--memory", "--system", "tests.e2e.chaos_system:SYSTEM"))
    yield running
    running.stop()


async def _order(server: Server, client: httpx.AsyncClient, pizza: str) -> list[str]:
    order = new_order(pizza)
    order_id = order["item"]["order_id"]
    async with websockets.connect(f"{server.ws_url}?order_id={order_id}") as socket:
        await socket.send(json.dumps({"action": "sync"}))
        assert (await client.post(server.url + "/", json=order)).status_code == 200
        return await collect(socket)


async def test_orders_complete_while_another_handler_raises_exits_and_hangs(
    chaos_server: Server,
) -> None:
    pizzas = ["raise", "exit", "hang"] * 3 + ["margherita"] * 10
    async with httpx.AsyncClient() as client:
        results = await asyncio.gather(*(_order(chaos_server, client, p) for p in pizzas))
    assert all(stages == STAGES for stages in results)

    deadline = time.monotonic() + 60  # a failure guard only
    while time.monotonic() < deadline:  # the hung ones time out after 1 s, then dead-letter
        stats = chaos_server.stats()
        if stats["dead_letters"] == 9:
            break
        await asyncio.sleep(0.1)
    assert stats["dead_letters"] == 9
    assert chaos_server.process.poll() is None  # the server is still up
