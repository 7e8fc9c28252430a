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
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pizzabus.clock import Clock, SystemClock
from pizzabus.errors import PizzabusError
from pizzabus.gateway.socketlimits import OutboxBudget, SocketLimits
from pizzabus.loop import LoopBinding

_SYSTEM_CLOCK = SystemClock()


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


#: Messages waiting for a slow client before posts are refused (besides their bytes, which
#: `SocketLimits` bounds).
MAX_BACKLOG = 10_000


class ConnectionState(enum.Enum):
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSED = "closed"


Send = Callable[[bytes], Awaitable[None]]
Close = Callable[[], Awaitable[None]]


class Connection:
    """One client's WebSocket connection."""

    def __init__(
        self, connection_id: str, source_ip: str, user_agent: str, *, clock: Clock | None = None
    ) -> None:
        self.id = connection_id
        self.state = ConnectionState.CONNECTING
        self.source_ip = source_ip
        self.user_agent = user_agent
        self.clock = clock or _SYSTEM_CLOCK
        self.connected_at = self.clock.now()
        self.last_active_at = self.connected_at
        self.opened = self.active = self.clock.monotonic()
        self._outbox: deque[bytes] = deque()
        #: Posted but not yet sent (counted from any thread, before the frame is queued).
        self.backlog = 0
        #: Bytes of the frames in the outbox (kept by the registry's `OutboxBudget`).
        self.queued_bytes = 0
        #: When the send in progress started (monotonic), or None.
        self.sending_since: float | None = None
        #: How the socket is to be closed when :meth:`request_close` was called.
        self.close_status: tuple[int, str] = (1000, "")
        #: Tears the socket down at once (set by the gateway; a stalled send cannot close).
        self.abort: Callable[[], None] = lambda: None
        self._budget: OutboxBudget | None = None
        self._wake = asyncio.Event()
        self._close_requested = False

    def transition(self, expected: ConnectionState, new: ConnectionState) -> None:
        if self.state is not expected:
            raise RuntimeError(
                f"connection {self.id} is {self.state.value}, expected {expected.value}"
            )
        self.state = new

    def touch(self) -> None:
        """A message went one way or the other: the connection is not idle."""
        self.active = self.clock.monotonic()
        self.last_active_at = self.clock.now()

    def reserve(self, size: int) -> str | None:
        """Room for ``size`` more bytes in the outbox; None, or why there is none."""
        if self._budget is None:
            return None
        return self._budget.reserve(self, size)

    def _unreserve(self, size: int) -> None:
        if self._budget is not None:
            self._budget.release(self, size)

    def enqueue(self, data: bytes) -> None:
        """Queue a frame the gateway sends itself (on the loop's thread); dropped when the
        client is not reading and its outbox is full: it is a reply to what the client sent."""
        if self.state is ConnectionState.OPEN and self.reserve(len(data)) is None:
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
            self.drop_outbox()

    def drop_outbox(self) -> None:
        """Forget what was not sent (the connection closed), and give back its bytes."""
        while self._outbox:
            self._unreserve(len(self._outbox.popleft()))

    def request_close(self, code: int = 1000, reason: str = "") -> None:
        self.close_status = (code, reason)
        self._close_requested = True
        self._wake.set()

    async def pump(self, send: Send, close: Close) -> None:
        """Send queued frames until the connection closes (run as a task while OPEN)."""
        while self.state is ConnectionState.OPEN:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                data = self._outbox.popleft()
                self.sending_since = self.clock.monotonic()
                try:
                    await send(data)
                finally:
                    self.sending_since = None
                    self.backlog -= 1
                    self._unreserve(len(data))
                self.touch()
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
        limits: SocketLimits | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.api_name = api_name
        self._inject_gone = inject_gone
        self.max_message_bytes = max_message_bytes
        self.limits = limits or SocketLimits()
        self.clock = clock or _SYSTEM_CLOCK
        self.budget = OutboxBudget(self.limits)
        #: Sockets closed for each reason since the start (stalled, idle, too old).
        self.reaped: dict[str, int] = {"stalled": 0, "idle": 0, "max_age": 0}
        self._connections: dict[str, Connection] = {}
        self._loop = LoopBinding("ConnectionRegistry")
        #: Set while any socket is registered: with none, the reaper sleeps without a timer
        #: (a test advancing a manual clock by a week would otherwise wake it every second).
        self._occupied = asyncio.Event()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop.bind(loop)

    def add(self, connection: Connection) -> None:
        connection._budget = self.budget
        self._connections[connection.id] = connection
        self._occupied.set()

    def discard(self, connection: Connection) -> None:
        connection.state = ConnectionState.CLOSED
        self._connections.pop(connection.id, None)
        if not self._connections:
            self._occupied.clear()
        connection.drop_outbox()

    async def reap_forever(self) -> None:
        """Close stalled, idle and too old sockets, every ``check_interval`` (run as a task)."""
        while True:
            await self._occupied.wait()
            await self.clock.sleep(self.limits.check_interval)
            self.reap()

    def reap(self) -> None:
        """Close each socket past a limit: a stalled send at once (abort), the others with a
        close frame (1001, as API Gateway's idle timeout and maximum age)."""
        now, limits = self.clock.monotonic(), self.limits
        for connection in list(self._connections.values()):
            if connection.state is not ConnectionState.OPEN:
                continue
            started = connection.sending_since
            if started is not None and now - started > limits.send_timeout:
                self.reaped["stalled"] += 1
                connection.abort()
            elif now - connection.active > limits.idle_timeout:
                self.reaped["idle"] += 1
                connection.request_close(1001, "Going away: idle too long")
            elif now - connection.opened > limits.max_age:
                self.reaped["max_age"] += 1
                connection.request_close(1001, "Going away: the connection reached its age limit")

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
        refusal = connection.reserve(len(data))
        if refusal is not None:
            raise LimitExceeded(f"Connection {connection_id}: {refusal}. Retry later.")
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
