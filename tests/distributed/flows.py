"""Orders as browsers place them, against a cluster: sockets on one gateway, posts to another."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import websockets

from tests.e2e.orders import collect, new_order
from tests.e2e.server import Server


async def follow_on_a_post_to_b(
    a: Server, b: Server, client: httpx.AsyncClient, timeout: float = 60.0
) -> list[str]:
    """Open the order's socket on ``a``, post the order to ``b``; the stages the socket saw."""
    order = new_order()
    order_id = order["item"]["order_id"]
    async with await connect_retrying(f"{a.ws_url}?order_id={order_id}") as socket:
        # No {"action":"sync"}: a new socket catches up by itself, and a sync sent while a NATS
        # node is being killed may be answered with an error frame instead of routed.
        await post_until_accepted(b, client, order)
        return await collect(socket, timeout=timeout)


async def connect_retrying(url: str, attempts: int = 6) -> Any:
    """Open a socket, trying again when the handshake is refused with a 5xx (its $connect
    failed: the web client reconnects the same way)."""
    for attempt in range(attempts):
        try:
            return await websockets.connect(url)
        except websockets.InvalidStatus as refused:
            if refused.response.status_code < 500 or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


async def post_until_accepted(
    gateway: Server, client: httpx.AsyncClient, order: dict[str, object], attempts: int = 8
) -> None:
    """POST the order, retrying what the gateway answers as retryable (a 503, or an entry
    failed with InternalException), as an AWS SDK retries PutEvents."""
    for attempt in range(attempts):
        response = await client.post(gateway.url + "/", json=order)
        retryable = response.status_code == 503 or (
            response.status_code == 200
            and any(e.get("ErrorCode") == "InternalException" for e in response.json()["Entries"])
        )
        if not retryable:
            assert response.status_code == 200, response.text
            assert response.json()["FailedEntryCount"] == 0, response.text
            return
        await asyncio.sleep(0.2 * 2**attempt)
    raise AssertionError(f"the order was never accepted: {response.text}")


async def many(
    a: Server, b: Server, count: int, concurrency: int = 20, timeout: float = 90.0
) -> list[list[str]]:
    """``count`` orders, ``concurrency`` at a time; each one's stages."""
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=30) as client:

        async def one() -> list[str]:
            async with gate:
                return await follow_on_a_post_to_b(a, b, client, timeout)

        return await asyncio.gather(*(one() for _ in range(count)))
