"""The management API over connections answers as API Gateway's does."""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime
from urllib.parse import quote

import pytest

from pizzabus.gateway.connections import (
    Connection,
    ConnectionRegistry,
    ConnectionState,
    Gone,
    PayloadTooLarge,
    new_connection_id,
)


@pytest.fixture
async def registry() -> ConnectionRegistry:
    made = ConnectionRegistry("lab_websocket_api", max_message_bytes=10)
    made.bind(asyncio.get_running_loop())
    return made


def _open(registry: ConnectionRegistry, connection_id: str = "c1") -> Connection:
    connection = Connection(connection_id, "127.0.0.1", "pytest")
    registry.add(connection)
    connection.transition(ConnectionState.CONNECTING, ConnectionState.OPEN)
    return connection


async def test_posts_to_an_open_connection_are_sent_in_order(registry: ConnectionRegistry) -> None:
    connection = _open(registry)
    sent: list[bytes] = []

    async def send(data: bytes) -> None:
        sent.append(data)

    async def close() -> None:
        pass

    pump = asyncio.create_task(connection.pump(send, close))
    for n in range(5):
        registry.post("c1", str(n).encode())
    async with asyncio.timeout(30):  # a failure guard: the wait ends when the pump has sent
        while len(sent) < 5:
            await asyncio.sleep(0)
    pump.cancel()
    assert sent == [b"0", b"1", b"2", b"3", b"4"]


@pytest.mark.parametrize(
    "state",
    [
        pytest.param(None, id="unknown"),
        pytest.param(ConnectionState.CONNECTING, id="still-connecting"),
        pytest.param(ConnectionState.CLOSED, id="closed"),
    ],
)
async def test_a_connection_that_is_not_open_is_gone(
    registry: ConnectionRegistry, state: ConnectionState | None
) -> None:
    if state is ConnectionState.CONNECTING:
        registry.add(Connection("c1", "127.0.0.1", "pytest"))
    elif state is ConnectionState.CLOSED:
        registry.discard(_open(registry))
    with pytest.raises(Gone) as gone:
        registry.post("c1", b"hi")
    assert gone.value.status == 410
    assert gone.value.code == "GoneException"
    with pytest.raises(Gone):
        registry.get("c1")
    with pytest.raises(Gone):
        registry.delete("c1")


async def test_a_message_over_the_limit_is_payload_too_large(registry: ConnectionRegistry) -> None:
    _open(registry)
    registry.post("c1", b"x" * 10)
    with pytest.raises(PayloadTooLarge) as too_large:
        registry.post("c1", b"x" * 11)
    assert too_large.value.code == "PayloadTooLargeException"


async def test_get_connection_describes_it(registry: ConnectionRegistry) -> None:
    _open(registry)
    info = registry.get("c1")
    assert isinstance(info["ConnectedAt"], datetime)
    assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "pytest"}


async def test_an_illegal_transition_names_the_expected_and_actual_state() -> None:
    connection = Connection("c1", "127.0.0.1", "pytest")
    with pytest.raises(RuntimeError, match="c1 is connecting, expected open"):
        connection.transition(ConnectionState.OPEN, ConnectionState.CLOSED)


async def test_delete_connection_closes_the_socket(registry: ConnectionRegistry) -> None:
    connection = _open(registry)
    closed = asyncio.Event()

    async def send(data: bytes) -> None:
        pass

    async def close() -> None:
        closed.set()

    pump = asyncio.create_task(connection.pump(send, close))
    registry.delete("c1")
    await asyncio.wait_for(closed.wait(), 1)
    await pump


def test_connection_ids_are_url_safe_and_shaped_like_api_gateways() -> None:
    ids = {new_connection_id() for _ in range(2000)}
    assert len(ids) == 2000
    for connection_id in ids:
        assert len(connection_id) == 16
        assert connection_id.endswith("=")
        assert quote(connection_id, safe="=") == connection_id, connection_id
        assert len(base64.urlsafe_b64decode(connection_id)) == 10
