"""Posts reach the socket in the order they were made, whichever thread made them.

A handler on its environment's thread posts, then a handler running inline on the loop's
thread posts: API Gateway's PostToConnection is synchronous, so the first post is sent first.
Here a post from another thread joins the outbox when it is made, and only the pump's wake-up
hops to the loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from pizzabus.gateway import connections
from pizzabus.gateway.connections import (
    Connection,
    ConnectionRegistry,
    ConnectionState,
    Gone,
    LimitExceeded,
)


class Socket:
    """The client's end: what the pump sent, and whether it closed."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = asyncio.Event()

    async def send(self, data: bytes) -> None:
        self.sent.append(data)

    async def close(self) -> None:
        self.closed.set()


@pytest.fixture
async def registry() -> ConnectionRegistry:
    made = ConnectionRegistry("lab_websocket_api", max_message_bytes=1024)
    made.bind(asyncio.get_running_loop())
    return made


def _open(registry: ConnectionRegistry, connection_id: str = "c1") -> Connection:
    connection = Connection(connection_id, "127.0.0.1", "pytest")
    registry.add(connection)
    connection.transition(ConnectionState.CONNECTING, ConnectionState.OPEN)
    return connection


async def _pumped(connection: Connection) -> tuple[Socket, asyncio.Task[None]]:
    socket = Socket()
    pump = asyncio.create_task(connection.pump(socket.send, socket.close))
    await asyncio.sleep(0)  # the pump is waiting for its first wake-up
    return socket, pump


def _post_from_a_handler_thread(registry: ConnectionRegistry, *frames: bytes) -> list[Exception]:
    """Post from another thread and wait for it, holding the loop: the wake-ups the thread
    scheduled cannot have run when this returns. The errors the posts raised, in order."""
    errors: list[Exception] = []

    def post() -> None:
        for frame in frames:
            try:
                registry.post("c1", frame)
            except Exception as error:  # the test asserts on what was raised
                errors.append(error)

    thread = threading.Thread(target=post)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    return errors


async def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait until ``condition`` holds; the 30 s are a failure guard, never an expectation."""
    deadline = asyncio.get_running_loop().time() + 30
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"gave up waiting until {what}")
        await asyncio.sleep(0.001)


async def test_a_threads_post_is_sent_before_a_later_post_from_the_loops_thread(
    registry: ConnectionRegistry,
) -> None:
    socket, pump = await _pumped(_open(registry))
    assert _post_from_a_handler_thread(registry, b"from-thread") == []
    registry.post("c1", b"from-loop")  # an inline handler's post, before the loop turns
    await _until(lambda: len(socket.sent) == 2, "both frames are sent")
    pump.cancel()
    assert socket.sent == [b"from-thread", b"from-loop"]


async def test_alternating_thread_and_loop_posts_keep_their_order(
    registry: ConnectionRegistry,
) -> None:
    socket, pump = await _pumped(_open(registry))
    expected: list[bytes] = []
    for n in range(10):
        _post_from_a_handler_thread(registry, f"thread-{n}".encode())
        registry.post("c1", f"loop-{n}".encode())
        expected += [f"thread-{n}".encode(), f"loop-{n}".encode()]
        if n % 3 == 0:
            await asyncio.sleep(0)  # sometimes let the pump run in between
    await _until(lambda: len(socket.sent) == len(expected), "every frame is sent")
    pump.cancel()
    assert socket.sent == expected


async def test_each_threads_posts_arrive_in_its_own_order_and_the_backlog_drains(
    registry: ConnectionRegistry,
) -> None:
    connection = _open(registry)
    socket, pump = await _pumped(connection)
    per_thread = 50
    names = ["a", "b", "c", "d"]

    def post_many(name: str) -> None:
        for n in range(per_thread):
            registry.post("c1", f"{name}-{n}".encode())

    threads = [threading.Thread(target=post_many, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    await _until(lambda: not any(t.is_alive() for t in threads), "every thread has posted")
    await _until(lambda: len(socket.sent) == per_thread * len(names), "every frame is sent")
    pump.cancel()
    for name in names:
        mine = [frame for frame in socket.sent if frame.startswith(f"{name}-".encode())]
        assert mine == [f"{name}-{n}".encode() for n in range(per_thread)]
    assert connection.backlog == 0


@pytest.mark.parametrize("where", ["loop", "thread"])
async def test_a_post_to_a_closed_connection_is_gone_and_nothing_is_sent(
    registry: ConnectionRegistry, where: str
) -> None:
    connection = _open(registry)
    socket, pump = await _pumped(connection)
    registry.discard(connection)
    if where == "loop":
        with pytest.raises(Gone):
            registry.post("c1", b"too late")
    else:
        errors = _post_from_a_handler_thread(registry, b"too late")
        assert [type(e) for e in errors] == [Gone]
    connection.request_close()
    await asyncio.wait_for(socket.closed.wait(), 1)
    await pump
    assert socket.sent == []
    assert connection.backlog == 0


async def test_a_frame_posted_just_before_the_connection_closed_is_dropped(
    registry: ConnectionRegistry,
) -> None:
    connection = _open(registry)
    socket, pump = await _pumped(connection)
    assert _post_from_a_handler_thread(registry, b"in flight") == []  # queued, wake-up pending
    registry.discard(connection)  # the client went away before the loop got round to it
    await asyncio.sleep(0)  # the thread's wake-up runs now, on a closed connection
    connection.request_close()  # wakes the pump: it must find nothing left to send
    await asyncio.wait_for(socket.closed.wait(), 1)
    await pump
    assert socket.sent == []


async def test_the_backlog_counts_thread_posts_before_the_loop_sends_them(
    registry: ConnectionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connections, "MAX_BACKLOG", 3)
    connection = _open(registry)
    errors = _post_from_a_handler_thread(registry, b"1", b"2", b"3", b"4")
    assert [type(e) for e in errors] == [LimitExceeded]
    assert "has 3 messages waiting" in str(errors[0])
    with pytest.raises(LimitExceeded):
        registry.post("c1", b"5")  # from the loop's thread too
    assert connection.backlog == 3
    socket, pump = await _pumped(connection)
    await _until(lambda: len(socket.sent) == 3, "the backlog is sent")
    assert connection.backlog == 0
    registry.post("c1", b"6")  # room again
    await _until(lambda: len(socket.sent) == 4, "the next post is sent")
    pump.cancel()
    assert socket.sent == [b"1", b"2", b"3", b"6"]


async def test_frames_the_gateway_queues_itself_count_on_the_backlog(
    registry: ConnectionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pump takes every frame it sends off the backlog, posted or not: an error frame that
    # was never counted would let the backlog go below zero and admit a post past the limit.
    monkeypatch.setattr(connections, "MAX_BACKLOG", 2)
    connection = _open(registry)
    connection.enqueue(b'{"message": "Forbidden"}')  # what an unroutable message gets back
    registry.post("c1", b"a")
    with pytest.raises(LimitExceeded):
        registry.post("c1", b"b")
    socket, pump = await _pumped(connection)
    await _until(lambda: len(socket.sent) == 2, "both frames are sent")
    pump.cancel()
    assert socket.sent == [b'{"message": "Forbidden"}', b"a"]
    assert connection.backlog == 0
