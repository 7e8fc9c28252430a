"""Pushes across the broker: ``post_to_connection`` from any worker reaches the gateway that
holds the socket, by NATS request/reply on that gateway's own subject (the connection id names
it, see :mod:`.subjects`). A gateway that is gone has no responder: ``GoneException`` (410),
and the handler removes the connection, as it does for any closed one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

import nats.errors
from nats.aio.msg import Msg

from pizzabus.contracts.connections import ConnectionDirectory
from pizzabus.distributed.broker import Broker, headers_of
from pizzabus.distributed.subjects import gateway_of
from pizzabus.errors import PizzabusError
from pizzabus.gateway.connections import Gone, LimitExceeded, PayloadTooLarge
from pizzabus.loop import wait_on_loop

#: How long a push may wait for its gateway.
PUSH_TIMEOUT = 5.0
_ERRORS: dict[str, type[PizzabusError]] = {
    "GoneException": Gone,
    "PayloadTooLargeException": PayloadTooLarge,
    "LimitExceededException": LimitExceeded,
}


#: Recent frames per connection a repeated push is checked against, and for how long.
RECENT_FRAMES = 16
RECENT_SECONDS = 30.0


class RecentFrames:
    """What each connection was sent lately, to send a frame repeated byte for byte only once.

    A worker that dies after its handler pushed a frame, and before the handler recorded that
    it did, has its invocation run again, which pushes the same frame again; on one process
    that cannot happen (the socket dies with the server). Suppressing an identical frame within
    a short window keeps "each frame once" across that crash; a client that really sends the
    same bytes twice within it gets them once.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sent: dict[str, deque[tuple[float, int]]] = {}
        self._calls = 0

    def seen(self, connection: str, data: bytes) -> bool:
        """Whether ``data`` was sent to ``connection`` lately; remembers it if not."""
        now = self._clock()
        self._calls += 1
        if self._calls % 1024 == 0:  # forget connections that have gone quiet
            self._sent = {
                c: r for c, r in self._sent.items() if r and now - r[-1][0] <= RECENT_SECONDS
            }
        digest = hash(data)
        recent = self._sent.setdefault(connection, deque(maxlen=RECENT_FRAMES))
        while recent and now - recent[0][0] > RECENT_SECONDS:
            recent.popleft()
        if any(d == digest for _, d in recent):
            return True
        recent.append((now, digest))
        return False

    def forget(self, connection: str) -> None:
        self._sent.pop(connection, None)


class PushService:
    """A gateway's side: applies pushes to the sockets it holds."""

    def __init__(self, broker: Broker, gateway: str, local: ConnectionDirectory) -> None:
        self.broker = broker
        self.gateway = gateway
        self.local = local
        self.recent = RecentFrames()
        self.suppressed = 0

    async def start(self) -> None:
        await self.broker.nc.subscribe(
            self.broker.names.push_subject(self.gateway), cb=self._handle
        )

    async def _handle(self, message: Msg) -> None:
        headers = headers_of(message)
        operation = headers.get("Op", "post")
        connection = headers.get("Connection", "")
        answer: dict[str, Any] = {}
        try:
            if operation == "post":
                if self.recent.seen(connection, message.data):
                    self.local.get(connection)  # still 410 if it is gone
                    self.suppressed += 1
                else:
                    try:
                        self.local.post(connection, message.data)
                    except PizzabusError:
                        self.recent.forget(connection)
                        raise
            elif operation == "get":
                info = self.local.get(connection)
                answer["info"] = {
                    "ConnectedAt": info["ConnectedAt"].timestamp(),
                    "Identity": info["Identity"],
                    "LastActiveAt": info["LastActiveAt"].timestamp(),
                }
            else:
                self.local.delete(connection)
        except PizzabusError as error:
            answer = {"code": error.code, "message": error.message}
        if message.reply:
            await self.broker.nc.publish(message.reply, json.dumps(answer).encode())


class RemoteConnections:
    """A worker's :class:`~pizzabus.contracts.ConnectionDirectory`: each call goes to the
    gateway named in the connection id. Called from handler threads."""

    def __init__(
        self, broker: Broker, loop: asyncio.AbstractEventLoop, api_name: str, max_bytes: int
    ) -> None:
        self.broker = broker
        self.loop = loop
        self.api_name = api_name
        self.max_message_bytes = max_bytes

    def post(self, connection_id: str, data: bytes) -> None:
        if len(data) > self.max_message_bytes:
            raise PayloadTooLarge(
                f"Message is {len(data)} bytes; a WebSocket message may be at most "
                f"{self.max_message_bytes} bytes."
            )
        self._call("post", connection_id, data)

    def get(self, connection_id: str) -> dict[str, Any]:
        from datetime import UTC

        info = self._call("get", connection_id, b"")["info"]
        return {
            "ConnectedAt": datetime.fromtimestamp(info["ConnectedAt"], UTC),
            "Identity": info["Identity"],
            "LastActiveAt": datetime.fromtimestamp(info["LastActiveAt"], UTC),
        }

    def delete(self, connection_id: str) -> None:
        self._call("delete", connection_id, b"")

    def _call(self, operation: str, connection_id: str, data: bytes) -> dict[str, Any]:
        gateway = gateway_of(connection_id)
        if gateway is None:
            raise Gone(f"Connection {connection_id} is gone (it never existed).")
        answer = wait_on_loop(
            self.loop, self._request(gateway, operation, connection_id, data), PUSH_TIMEOUT * 2
        )
        if "code" in answer:
            raise _ERRORS.get(answer["code"], PizzabusError)(answer["message"])
        return answer

    async def _request(
        self, gateway: str, operation: str, connection_id: str, data: bytes
    ) -> dict[str, Any]:
        headers = {"Op": operation, "Connection": connection_id}
        try:
            reply = await self.broker.nc.request(
                self.broker.names.push_subject(gateway), data, timeout=PUSH_TIMEOUT, headers=headers
            )
        except nats.errors.NoRespondersError:
            return {
                "code": "GoneException",
                "message": f"Connection {connection_id} is gone (its gateway is gone).",
            }
        result: dict[str, Any] = json.loads(reply.data)
        return result
