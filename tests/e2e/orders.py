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


async def collect(socket: Any, until: str = "delivered", timeout: float = 20.0) -> list[str]:
    """Stages received on ``socket`` until ``until`` arrives."""
    stages: list[str] = []
    async with asyncio.timeout(timeout):
        async for frame in socket:
            stages.append(json.loads(frame)["item"]["eventtype"])
            if stages[-1] == until:
                return stages
    return stages


async def silent_for(socket: Any, seconds: float) -> list[str]:
    """Frames that arrive on ``socket`` within ``seconds`` (expected: none)."""
    frames: list[str] = []
    try:
        async with asyncio.timeout(seconds):
            async for frame in socket:
                frames.append(str(frame))
    except TimeoutError:
        pass
    return frames


async def place_and_follow(url: str, ws_url: str, client: httpx.AsyncClient) -> list[str]:
    order = new_order()
    order_id = order["item"]["order_id"]
    async with websockets.connect(f"{ws_url}?order_id={order_id}") as socket:
        await socket.send(json.dumps({"action": "sync"}))
        response = await client.post(url + "/", json=order)
        assert response.status_code == 200, response.text
        return await collect(socket)
