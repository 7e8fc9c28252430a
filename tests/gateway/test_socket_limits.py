"""Slow and hostile WebSocket clients hold bounded memory and time (injected clock, no sleeps)."""

from __future__ import annotations

import asyncio

import pytest

from pizzabus.clock import ManualClock
from pizzabus.gateway.connections import (
    Connection,
    ConnectionRegistry,
    ConnectionState,
    LimitExceeded,
)
from pizzabus.gateway.socketlimits import ConnectionRate, SocketLimits

LIMITS = SocketLimits(
    max_outbox_bytes=100,
    max_total_outbox_bytes=250,
    send_timeout=30,
    idle_timeout=600,
    max_age=7200,
    connections_per_second=2,
    connection_burst=3,
)


class StalledSocket:
    """A client that never reads: every send waits until the test lets it through."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.release = asyncio.Event()
        self.closed: list[tuple[int, str]] = []

    async def send(self, data: bytes) -> None:
        await self.release.wait()
        self.sent.append(data)


@pytest.fixture
async def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def registry(clock: ManualClock) -> ConnectionRegistry:
    made = ConnectionRegistry(
        "lab_websocket_api", max_message_bytes=1024, limits=LIMITS, clock=clock
    )
    made.bind(asyncio.get_running_loop())
    return made


def _open(registry: ConnectionRegistry, connection_id: str) -> Connection:
    connection = Connection(connection_id, "127.0.0.1", "pytest", clock=registry.clock)
    registry.add(connection)
    connection.transition(ConnectionState.CONNECTING, ConnectionState.OPEN)
    return connection


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_posts_past_a_sockets_outbox_bytes_are_refused_until_it_reads(
    registry: ConnectionRegistry,
) -> None:
    connection = _open(registry, "c1")
    registry.post("c1", b"x" * 60)
    with pytest.raises(LimitExceeded, match="60 bytes are waiting to be sent to it"):
        registry.post("c1", b"y" * 60)
    assert (connection.queued_bytes, registry.budget.total) == (60, 60)

    socket = StalledSocket()
    socket.release.set()  # the client reads again
    pump = asyncio.create_task(connection.pump(socket.send, _no_close))
    await _settle()
    registry.post("c1", b"y" * 60)
    await _settle()
    pump.cancel()
    assert socket.sent == [b"x" * 60, b"y" * 60]
    assert (connection.queued_bytes, registry.budget.total) == (0, 0)


async def test_all_outboxes_together_are_bounded(registry: ConnectionRegistry) -> None:
    for name in ("a", "b"):
        _open(registry, name)
        registry.post(name, b"x" * 100)
    _open(registry, "c")
    registry.post("c", b"x" * 50)
    with pytest.raises(LimitExceeded, match="250 bytes are waiting to be sent to all"):
        registry.post("c", b"x")


async def test_a_closed_connection_gives_its_queued_bytes_back(
    registry: ConnectionRegistry,
) -> None:
    connection = _open(registry, "c1")
    registry.post("c1", b"x" * 80)
    registry.discard(connection)
    assert (connection.queued_bytes, registry.budget.total) == (0, 0)


async def test_error_frames_for_a_client_that_does_not_read_are_dropped_not_queued(
    registry: ConnectionRegistry,
) -> None:
    connection = _open(registry, "c1")
    for _ in range(100):
        connection.enqueue(b'{"message": "Forbidden"}')  # 24 bytes each
    assert connection.queued_bytes == 96  # four fit in 100 bytes; the rest were dropped


async def test_a_send_stalled_past_the_timeout_aborts_the_socket(
    registry: ConnectionRegistry, clock: ManualClock
) -> None:
    connection = _open(registry, "c1")
    aborted: list[str] = []
    connection.abort = lambda: aborted.append("c1")
    socket = StalledSocket()
    pump = asyncio.create_task(connection.pump(socket.send, _no_close))
    registry.post("c1", b"stuck")
    await _settle()
    reaper = asyncio.create_task(registry.reap_forever())
    await _settle()

    await clock.advance(29)
    assert aborted == []  # within the send timeout
    await clock.advance(2)
    assert aborted == ["c1"]
    assert registry.reaped["stalled"] == 1
    reaper.cancel()
    pump.cancel()


@pytest.mark.parametrize(
    ("quiet", "active", "reason"),
    [
        pytest.param(601, False, "idle", id="idle-10-minutes"),
        pytest.param(7201, True, "max_age", id="older-than-2-hours"),
    ],
)
async def test_idle_and_old_sockets_are_closed_with_1001(
    registry: ConnectionRegistry, clock: ManualClock, quiet: float, active: bool, reason: str
) -> None:
    connection = _open(registry, "c1")
    closes: list[tuple[int, str]] = []

    async def close() -> None:
        closes.append(connection.close_status)

    socket = StalledSocket()
    socket.release.set()
    pump = asyncio.create_task(connection.pump(socket.send, close))
    elapsed = 0.0
    while elapsed < quiet:
        step = 300.0 if active else quiet - elapsed
        await clock.advance(step)
        elapsed += step
        if active:
            connection.touch()  # a message every 5 minutes: never idle
        registry.reap()
        await _settle()
    assert [code for code, _ in closes] == [1001]
    assert registry.reaped[reason] == 1
    await asyncio.wait_for(pump, 1)


async def test_new_connections_are_rate_limited_by_a_token_bucket(clock: ManualClock) -> None:
    rate = ConnectionRate(LIMITS, clock)
    assert [rate.admit() for _ in range(4)] == [True, True, True, False]  # a burst of 3
    await clock.advance(0.5)  # 2 per second: one more token
    assert [rate.admit(), rate.admit()] == [True, False]
    assert rate.refused == 2


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="idle_timeout must be positive"):
        SocketLimits(idle_timeout=0)


async def _no_close() -> None:
    pass
