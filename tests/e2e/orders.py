"""What a browser does with an order: open its socket, sync, post, and collect stages."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import websockets

STAGES = ["make_pizza", "cook_pizza", "deliver_pizza", "delivered"]


def new_order(pizza: str = "margherita") -> dict[str, Any]:
    return {"item": {"order_id": str(uuid.uuid4()), "eventtype": "make_pizza", "pizza": pizza}}


async def collect(socket: Any, until: str = "delivered", timeout: float = 60.0) -> list[str]:
    """Stages received on ``socket`` until ``until`` arrives (``timeout``: a failure guard)."""
    stages: list[str] = []
    async with asyncio.timeout(timeout):
        async for frame in socket:
            stages.append(json.loads(frame)["item"]["eventtype"])
            if stages[-1] == until:
                return stages
    return stages


async def silent_for(socket: Any, seconds: float) -> list[str]:
    """Frames that arrive on ``socket`` within ``seconds`` (expected: none).

    Passes when the system is merely slow: kept for the distributed suites until they move to
    :func:`rest_of`, which waits on an end marker instead."""
    frames: list[str] = []
    try:
        async with asyncio.timeout(seconds):
            async for frame in socket:
                frames.append(str(frame))
    except TimeoutError:
        pass
    return frames


async def rest_of(socket: Any, server: Any, timeout: float = 30.0) -> list[str]:
    """The frames ``socket`` still gets, up to an end marker (expected: none).

    Once the bus has nothing in flight, a message that no route takes is sent: the gateway
    answers it on the socket ("Forbidden"), queued behind every frame posted before it. So a
    late duplicate shows here however slow the machine is; no "nothing came within N ms"."""
    async with asyncio.timeout(timeout):  # a failure guard only
        while server.stats()["deliveries"]["in_flight"]:
            await asyncio.sleep(0.05)
        await socket.send("end of test: no route takes this")
        frames: list[str] = []
        async for frame in socket:
            message = json.loads(frame)
            if message.get("message") == "Forbidden":
                return frames
            frames.append(message["item"]["eventtype"])
    return frames


async def place_and_follow(url: str, ws_url: str, client: httpx.AsyncClient) -> list[str]:
    order = new_order()
    order_id = order["item"]["order_id"]
    async with websockets.connect(f"{ws_url}?order_id={order_id}") as socket:
        await socket.send(json.dumps({"action": "sync"}))
        response = await client.post(url + "/", json=order)
        assert response.status_code == 200, response.text
        return await collect(socket)
