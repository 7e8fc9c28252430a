"""WebSocket connections and API Gateway's management API over them.

A connection moves CONNECTING → OPEN → CLOSED. Only an OPEN connection can be posted to; any
other, or an unknown id, is ``GoneException`` (410), as API Gateway answers. Posts may come
from any thread (handlers run on their own); frames are sent on the event loop, in the order
the posts were made.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pizzabus.errors import PizzabusError
from pizzabus.loop import LoopBinding


class Gone(PizzabusError):
    code = "GoneException"
    status = 410


class PayloadTooLarge(PizzabusError):
    code = "PayloadTooLargeException"
    status = 413


class Forbidden(PizzabusError):
    code = "ForbiddenException"
    status = 403


class LimitExceeded(PizzabusError):
    code = "LimitExceededException"
    status = 429


#: Messages waiting for a slow client before posts are refused (memory stays bounded).
MAX_BACKLOG = 10_000


class ConnectionState(enum.Enum):
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSED = "closed"


Send = Callable[[bytes], Awaitable[None]]
Close = Callable[[], Awaitable[None]]


class Connection:
    """One client's WebSocket connection."""

    def __init__(self, connection_id: str, source_ip: str, user_agent: str) -> None:
        self.id = connection_id
        self.state = ConnectionState.CONNECTING
        self.source_ip = source_ip
        self.user_agent = user_agent
        self.connected_at = time.time()
        self.last_active_at = self.connected_at
        self._outbox: deque[bytes] = deque()
        #: Posted but not yet sent (counted from any thread, before the frame is queued).
        self.backlog = 0
        self._wake = asyncio.Event()
        self._close_requested = False

    def transition(self, expected: ConnectionState, new: ConnectionState) -> None:
        if self.state is not expected:
            raise RuntimeError(
                f"connection {self.id} is {self.state.value}, expected {expected.value}"
            )
        self.state = new

    def enqueue(self, data: bytes) -> None:
        """Queue a frame (on the loop's thread)."""
        if self.state is ConnectionState.OPEN:
            self.backlog += 1  # the pump counts every frame it sends off the backlog
            self._outbox.append(data)
            self._wake.set()

    def queue_posted(self, data: bytes) -> None:
        """Queue a posted frame, from any thread; :meth:`wake` must follow on the loop.

        The frame joins the outbox now, not when the loop gets round to it: a post from a
        handler's thread and a later one from the loop's own thread (an inline invocation)
        must reach the socket in the order they were made, as API Gateway's synchronous
        PostToConnection guarantees.
        """
        self._outbox.append(data)  # deque.append is atomic

    def wake(self) -> None:
        """Let the pump send what is queued (on the loop's thread)."""
        if self.state is ConnectionState.OPEN:
            self._wake.set()
        else:
            self._outbox.clear()

    def request_close(self) -> None:
        self._close_requested = True
        self._wake.set()

    async def pump(self, send: Send, close: Close) -> None:
        """Send queued frames until the connection closes (run as a task while OPEN)."""
        while self.state is ConnectionState.OPEN:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                await send(self._outbox.popleft())
                self.backlog -= 1
                self.last_active_at = time.time()
            if self._close_requested:
                await close()
                return


def new_connection_id() -> str:
    """An id shaped like API Gateway's (``L0SM9cOFvHcCIhw=``), in base64's URL-safe alphabet:
    with ``/`` in it (one id in five), an id could not be addressed in an ``@connections`` URL."""
    return base64.urlsafe_b64encode(os.urandom(10)).decode()


class ConnectionRegistry:
    """The open connections of one WebSocket API, and its management API."""

    def __init__(
        self,
        api_name: str,
        *,
        max_message_bytes: int,
        inject_gone: Callable[[], bool] = lambda: False,
    ) -> None:
        self.api_name = api_name
        self._inject_gone = inject_gone
        self.max_message_bytes = max_message_bytes
        self._connections: dict[str, Connection] = {}
        self._loop = LoopBinding("ConnectionRegistry")

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop.bind(loop)

    def add(self, connection: Connection) -> None:
        self._connections[connection.id] = connection

    def discard(self, connection: Connection) -> None:
        connection.state = ConnectionState.CLOSED
        self._connections.pop(connection.id, None)

    def __len__(self) -> int:
        return len(self._connections)

    def describe(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest open connections, as the console lists them."""
        newest = list(self._connections.values())[-limit:]
        return [
            {
                "id": c.id,
                "state": c.state.value,
                "source_ip": c.source_ip,
                "connected_at": c.connected_at,
                "last_active_at": c.last_active_at,
                "backlog": c.backlog,
            }
            for c in reversed(newest)
        ]

    def _open(self, connection_id: str) -> Connection:
        connection = self._connections.get(connection_id)
        if connection is None or connection.state is not ConnectionState.OPEN:
            raise Gone(f"Connection {connection_id} is gone (it closed, or never existed).")
        return connection

    # --- the management API (PostToConnection, GetConnection, DeleteConnection) ------------

    def post(self, connection_id: str, data: bytes) -> None:
        if len(data) > self.max_message_bytes:
            raise PayloadTooLarge(
                f"Message is {len(data)} bytes; a WebSocket message may be at most "
                f"{self.max_message_bytes} bytes."
            )
        connection = self._open(connection_id)
        if self._inject_gone():
            raise Gone(f"Connection {connection_id} is gone (an injected fault).")
        if connection.backlog >= MAX_BACKLOG:
            raise LimitExceeded(
                f"Connection {connection_id} has {connection.backlog} messages waiting to be "
                "sent; the client is not reading. Retry later."
            )
        connection.backlog += 1
        connection.queue_posted(data)
        self._loop.call(connection.wake)

    def get(self, connection_id: str) -> dict[str, Any]:
        connection = self._open(connection_id)
        return {
            "ConnectedAt": datetime.fromtimestamp(connection.connected_at, UTC),
            "Identity": {"SourceIp": connection.source_ip, "UserAgent": connection.user_agent},
            "LastActiveAt": datetime.fromtimestamp(connection.last_active_at, UTC),
        }

    def delete(self, connection_id: str) -> None:
        connection = self._open(connection_id)
        self._loop.call(connection.request_close)
