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


#: A failure guard only: each wait ends as soon as what it waits for arrives.
GUARD_SECONDS = 30
END = "<end>"


class Socket:
    """An open connection following an order: the stages it received, in order."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.frames: list[str] = []
        self._ended = asyncio.Event()

    async def send(self, data: bytes) -> None:
        stage = json.loads(data)["item"]["eventtype"]
        if stage == END:
            self._ended.set()
        else:
            self.frames.append(stage)

    async def everything(self, system: EmbeddedSystem) -> list[str]:
        """Every frame it will ever get: once the bus is idle, a last frame queued behind
        whatever was posted marks the end, so a late duplicate cannot hide behind a timeout."""
        await system.deliverer.drain()
        self.connection.enqueue(json.dumps({"item": {"eventtype": END}}).encode())
        await asyncio.wait_for(self._ended.wait(), GUARD_SECONDS)
        return self.frames


async def _socket(system: EmbeddedSystem, order_id: str, connection_id: str) -> Socket:
    """An open connection following ``order_id``."""
    assert system.connections is not None
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
    socket = Socket(connection)

    async def close() -> None:
        pass

    asyncio.get_running_loop().create_task(connection.pump(socket.send, close))
    return socket


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


def _invocations(system: EmbeddedSystem) -> dict[str, int]:
    return dict(system.deliverer.stats.by_target)


async def test_with_no_fault_each_target_is_invoked_once_per_event(system: EmbeddedSystem) -> None:
    sockets = [await _socket(system, f"o{n}", f"c{n}") for n in range(3)]
    await system.deliverer.drain()  # each $connect's "connected" event, delivered before orders
    for n in range(3):
        await system.router.put_events_async(
            [{"Source": "lab_http_api", "DetailType": "eventtype", "EventBusName": "lab_event_bus",
              "Detail": json.dumps({"item": {"order_id": f"o{n}", "eventtype": "make_pizza"}})}]
        )  # fmt: skip
    assert [await s.everything(system) for s in sockets] == [STAGES] * 3
    assert _invocations(system) == {
        "make_pizza": 3,
        "cook_pizza": 3,
        "deliver_pizza": 3,
        # one per stage event, and one per connection's "connected" event (catch-up, §2.6)
        "receive_events": 15,
    }


async def test_a_stage_delivered_twice_advances_the_order_once(system: EmbeddedSystem) -> None:
    socket = await _socket(system, "o1", "c1")
    make = _stage_event("o1", "make_pizza", "lab_http_api")
    await system.runtime.invoke("receive_events", make)
    await system.runtime.invoke("make_pizza", make)
    await system.runtime.invoke("make_pizza", make)  # the bus delivered it again
    assert await socket.everything(system) == STAGES  # each stage reaches the socket once
    assert await _timeline(system, "o1") == STAGES  # once each, in order


async def test_a_push_repeated_shows_the_stage_once(system: EmbeddedSystem) -> None:
    socket = await _socket(system, "o2", "c2")
    make = _stage_event("o2", "make_pizza", "lab_http_api")
    for _ in range(3):
        await system.runtime.invoke("receive_events", make)
    assert await socket.everything(system) == ["make_pizza"]
    assert await _timeline(system, "o2") == ["make_pizza"]


async def test_two_sockets_of_one_order_each_get_every_stage_once(system: EmbeddedSystem) -> None:
    sockets = [await _socket(system, "o4", "c4a"), await _socket(system, "o4", "c4b")]
    make = _stage_event("o4", "make_pizza", "lab_http_api")
    await system.runtime.invoke("receive_events", make)
    await system.runtime.invoke("make_pizza", make)
    await system.runtime.invoke("receive_events", make)  # redelivered
    assert [await s.everything(system) for s in sockets] == [STAGES, STAGES]


async def test_stages_pushed_out_of_order_reach_the_socket_in_stage_order(
    system: EmbeddedSystem,
) -> None:
    socket = await _socket(system, "o3", "c3")
    sources = dict(
        zip(STAGES, ["lab_http_api", "make_pizza", "cook_pizza", "deliver_pizza"], strict=True)
    )
    for stage in ["deliver_pizza", "delivered", "make_pizza", "cook_pizza"]:
        await system.runtime.invoke("receive_events", _stage_event("o3", stage, sources[stage]))
    assert await socket.everything(system) == STAGES  # held back until the gap closed
