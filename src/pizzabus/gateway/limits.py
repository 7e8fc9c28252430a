"""HTTP limits at the transport, as a trusted edge sets them (nginx, API Gateway).

uvicorn bounds idle keep-alive connections (``timeout_keep_alive``) but not a request that
trickles in: 100 half-open requests once stayed open 130 s. httptools, its fast parser, has no
header size limit either. :func:`limited_protocol` makes uvicorn's httptools protocol class
enforce, per connection:

- a cap on the headers' size (431), and a deadline for them to arrive (408) once a request
  starts;
- a deadline between two reads of a body (408 if no response has started; then closed);
- a cap on open connections, HTTP and WebSocket together: beyond it a new one gets 503 and
  is closed before anything is read.

Timers are the loop's ``call_later`` handles, armed and cancelled per request: no task, and
nothing on the path of a request that arrives whole.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@dataclass(frozen=True)
class HttpLimits:
    """The limits; the README lists the defaults (``pizzabus serve --help`` too)."""

    #: Request line and headers together, in bytes (API Gateway: 10 KB; h11's default: 16 KiB).
    max_header_bytes: int = 16 * 1024
    #: Seconds a request's headers may take to arrive, from its first byte (nginx: 60 s).
    header_timeout: float = 15.0
    #: Seconds between two reads of a request body (nginx's client_body_timeout: 60 s).
    body_timeout: float = 30.0
    #: Open connections, HTTP and WebSocket together.
    max_connections: int = 16_384


_HEADERS_LATE = "The request headers did not arrive in time."
_BODY_LATE = "The request body stopped arriving."

_REFUSALS = {
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


def _raw_refusal(status: int, why: str) -> bytes:
    body = ('{"message": "' + why + '"}').encode()
    return b"".join(
        [
            f"HTTP/1.1 {status} ".encode(),
            _REFUSALS[status],
            b"\r\ncontent-type: application/json\r\ncontent-length: ",
            str(len(body)).encode(),
            b"\r\nconnection: close\r\n\r\n",
            body,
        ]
    )


def limited_protocol(limits: HttpLimits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol class, enforcing ``limits`` (pass it as ``http=``)."""

    class LimitedHttpToolsProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._in_headers = True
            self._in_body = False
            self._header_bytes = 0
            self._deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            if len(self.connections) >= limits.max_connections:
                self.logger.warning(
                    "refused a connection: %d are open (--max-connections)",
                    len(self.connections),
                )
                self.transport = transport
                transport.write(_raw_refusal(503, "Too many open connections; retry later."))
                transport.close()
                return
            super().connection_made(transport)
            self._arm(limits.header_timeout, _HEADERS_LATE)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            # Most requests arrive whole in one read: then nothing is armed here.
            if self._in_headers:
                self._header_bytes += len(data)
                if self._header_bytes > limits.max_header_bytes:
                    self._refuse(431, self._too_large())
                elif self._deadline is None:
                    self._arm(limits.header_timeout, _HEADERS_LATE)
            elif self._in_body:
                self._disarm()
                self._arm(limits.body_timeout, _BODY_LATE)

        def on_message_begin(self) -> None:
            self._in_headers = True
            self._header_bytes = 0
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._in_headers = False
            self._disarm()
            size = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
            if size > limits.max_header_bytes:
                app, self.app = self.app, _header_too_large(self._too_large())
                try:
                    super().on_headers_complete()
                finally:
                    self.app = app
                return
            # A WebSocket handshake has no body: the connection is about to change protocol.
            self._in_body = not (self.parser.should_upgrade() and self._should_upgrade())
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._in_body = False
            self._disarm()
            super().on_message_complete()

        def _too_large(self) -> str:
            return f"The request headers exceed {limits.max_header_bytes} bytes."

        def _arm(self, seconds: float, why: str) -> None:
            self._deadline = self.loop.call_later(seconds, self._expired, why)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self, why: str) -> None:
            self._deadline = None
            cycle = self.cycle
            if self._in_body and cycle is not None:
                # The app may be waiting on the body: it sees the client as gone.
                cycle.disconnected = True
                cycle.message_event.set()
                if cycle.response_started:
                    self.transport.close()
                    return
            self._refuse(408, why)

        def _refuse(self, status: int, why: str) -> None:
            self._disarm()
            if not self.transport.is_closing():
                self.logger.info("closing a connection: %s", why)
                self.transport.write(_raw_refusal(status, why))
                self.transport.close()

    return LimitedHttpToolsProtocol


def _header_too_large(why: str) -> Any:
    body = ('{"message": "' + why + '"}').encode()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 431,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app
