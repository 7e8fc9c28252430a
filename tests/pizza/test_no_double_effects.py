"""Deliveries may repeat (at least once); the pizza flow must not show it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pizzabus.embedded import EmbeddedSystem, Settings
from pizzabus.gateway.connections import Connection, ConnectionState
from pizzabus.gateway.events import websocket_event
from pizzabus.pizza.system import SYSTEM

STAGES = ["make_pizza", "cook_pizza", "deliver_pizza", "delivered"]


@pytest.fixture
async def system() -> AsyncIterator[EmbeddedSystem]:
    made = EmbeddedSystem(SYSTEM, Settings(data_dir=None))
    async with made.running():
        yield made


async def _socket(system: EmbeddedSystem, order_id: str, connection_id: str) -> list[str]:
    """An open connection following ``order_id``; returns the list its frames land in."""
    assert system.connections is not None
    frames: list[str] = []
    connection = Connection(connection_id, "127.0.0.1", "pytest")
    system.connections.add(connection)
    event = websocket_event(
        route_key="$connect", event_type="CONNECT", connection_id=connection_id,
        connected_at=connection.connected_at - 60, api_id="a", stage="production",
        domain="localhost", source_ip="127.0.0.1", user_agent="pytest",
        query_string=f"order_id={order_id}",
    )  # fmt: skip
    await system.runtime.invoke("websocket_connect", json.dumps(event).encode())
    connection.transition(ConnectionState.CONNECTING, ConnectionState.OPEN)

    async def send(data: bytes) -> None:
        frames.append(json.loads(data)["item"]["eventtype"])

    async def close() -> None:
        pass

    asyncio.get_running_loop().create_task(connection.pump(send, close))
    return frames


def _stage_event(order_id: str, eventtype: str, source: str) -> bytes:
    event: dict[str, Any] = {
        "version": "0", "id": f"{order_id}-{eventtype}", "detail-type": "eventtype",
        "source": source, "account": "000000000000", "time": "2026-11-28T09:00:00Z",
        "region": "us-east-1", "resources": [],
        "detail": {"item": {"order_id": order_id, "eventtype": eventtype, "pizza": "m"}},
    }  # fmt: skip
    return json.dumps(event).encode()


async def _timeline(system: EmbeddedSystem, order_id: str) -> list[str]:
    page = system.tables.query(
        "order_timeline", key_condition="order_id = :o", values={":o": order_id}
    )
    return [item["eventtype"] for item in page.items]


async def test_a_stage_delivered_twice_advances_the_order_once(system: EmbeddedSystem) -> None:
    frames = await _socket(system, "o1", "c1")
    make = _stage_event("o1", "make_pizza", "lab_http_api")
    await system.runtime.invoke("receive_events", make)
    await system.runtime.invoke("make_pizza", make)
    await system.runtime.invoke("make_pizza", make)  # the bus delivered it again
    await system.deliverer.drain()
    await asyncio.sleep(0.05)
    assert await _timeline(system, "o1") == STAGES  # once each, in order
    assert frames == STAGES


async def test_a_push_repeated_shows_the_stage_once(system: EmbeddedSystem) -> None:
    frames = await _socket(system, "o2", "c2")
    make = _stage_event("o2", "make_pizza", "lab_http_api")
    for _ in range(3):
        await system.runtime.invoke("receive_events", make)
    await asyncio.sleep(0.05)
    assert frames == ["make_pizza"]
    assert await _timeline(system, "o2") == ["make_pizza"]


async def test_stages_pushed_out_of_order_reach_the_socket_in_stage_order(
    system: EmbeddedSystem,
) -> None:
    frames = await _socket(system, "o3", "c3")
    sources = dict(
        zip(STAGES, ["lab_http_api", "make_pizza", "cook_pizza", "deliver_pizza"], strict=True)
    )
    for stage in ["deliver_pizza", "delivered", "make_pizza", "cook_pizza"]:
        await system.runtime.invoke("receive_events", _stage_event("o3", stage, sources[stage]))
    await asyncio.sleep(0.05)
    assert frames == STAGES  # held back until the gap closed, then sent in order
