"""A client that goes away before its socket opens leaves nothing behind in the registry, and
gets the $disconnect its $connect calls for."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from pizzabus.contracts.invoker import Invocations
from pizzabus.gateway.connections import ConnectionRegistry
from pizzabus.gateway.websocket_api import WebSocketGateway
from pizzabus.system import WebSocketApi

API = WebSocketApi(
    name="lab_websocket_api",
    routes={"$connect": "on_connect", "$disconnect": "on_disconnect"},
)
SCOPE = {
    "type": "websocket",
    "path": "/ws",
    "headers": [(b"host", b"127.0.0.1")],
    "query_string": b"order_id=o",
    "client": ("127.0.0.1", 50000),
    "subprotocols": [],
}


class Recorder:
    """The function runtime, as the gateway sees it: records which functions ran."""

    def __init__(self, connect_gate: asyncio.Event | None = None) -> None:
        self.invoked: list[str] = []
        self.connect_gate = connect_gate

    async def invoke(self, function: str, payload: bytes) -> Any:
        self.invoked.append(function)
        if function == "on_connect" and self.connect_gate is not None:
            await self.connect_gate.wait()
        return {"statusCode": 200}


@pytest.fixture
async def registry() -> ConnectionRegistry:
    made = ConnectionRegistry(API.name, max_message_bytes=API.max_message_bytes)
    made.bind(asyncio.get_running_loop())
    return made


async def _receive() -> dict[str, Any]:
    return {"type": "websocket.connect"}


async def test_a_handshake_that_fails_after_connect_leaves_the_registry_and_disconnects(
    registry: ConnectionRegistry,
) -> None:
    runtime = Recorder()
    gateway = WebSocketGateway(API, registry, Invocations(runtime.invoke), "abc123")

    async def send(message: dict[str, Any]) -> None:
        raise OSError("the client went away")  # the accept never reaches it

    with pytest.raises(OSError, match="went away"):
        await gateway(SCOPE, _receive, send)
    await asyncio.sleep(0)  # $disconnect runs in a task of its own
    await asyncio.sleep(0)
    assert len(registry) == 0
    assert runtime.invoked == ["on_connect", "on_disconnect"]


async def test_a_handshake_cancelled_during_connect_leaves_the_registry(
    registry: ConnectionRegistry,
) -> None:
    gate = asyncio.Event()
    runtime = Recorder(connect_gate=gate)
    gateway = WebSocketGateway(API, registry, Invocations(runtime.invoke), "abc123")
    sent: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(json.dumps(message))

    task = asyncio.create_task(gateway(SCOPE, _receive, send))
    while not runtime.invoked:
        await asyncio.sleep(0)
    assert len(registry) == 1
    task.cancel()  # the server drops the socket's task while $connect still runs
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(registry) == 0
    assert sent == []
