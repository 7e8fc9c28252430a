"""The WebSocket API: ``$connect``, route selection on each message, ``$disconnect``.

As on API Gateway, the connection is refused when the ``$connect`` function fails or answers a
non-2xx status; each message goes to the route named by the route selection expression
(``$request.body.action``), or ``$default``; closing runs ``$disconnect``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from pizzabus.bus.eventjson import JsonRefused, loads_strict
from pizzabus.contracts.invoker import NOT_NOW, Invoker
from pizzabus.functions.errors import FunctionError
from pizzabus.gateway.connections import (
    Connection,
    ConnectionRegistry,
    ConnectionState,
    new_connection_id,
)
from pizzabus.gateway.events import websocket_event
from pizzabus.gateway.socketlimits import ConnectionRate
from pizzabus.system import WebSocketApi
from pizzabus.telemetry import NO_TELEMETRY, Recorder

log = logging.getLogger("pizzabus.gateway")


#: Close code API Gateway uses for a message over the size limit.
MESSAGE_TOO_BIG = 1009


class WebSocketGateway:
    """An ASGI endpoint serving one WebSocket API."""

    def __init__(
        self,
        api: WebSocketApi,
        registry: ConnectionRegistry,
        invoker: Invoker,
        api_id: str,
        *,
        new_id: Callable[[], str] = new_connection_id,
        telemetry: Recorder = NO_TELEMETRY,
    ) -> None:
        """A message's or ``$disconnect``'s invocation runs straight from the socket's task
        when the invoker can run it at once (``invoke_now``), otherwise in a task. ``new_id``
        names each new connection (a distributed gateway puts its own name in it)."""
        self.api = api
        self.registry = registry
        self.invoke = invoker.invoke
        self.invoke_now = invoker.invoke_now
        self.new_id = new_id
        self.api_id = api_id
        self.telemetry = telemetry
        self._selection = _selection_path(api.route_selection_expression)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.rate = ConnectionRate(registry.limits, registry.clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        if not self.rate.admit():
            limits = self.registry.limits
            await _refuse(
                websocket,
                429,
                f"Too many new connections: at most {limits.connections_per_second:g} per "
                f"second (bursts of {limits.connection_burst}). Retry in a moment.",
            )
            return
        client = scope.get("client") or ("127.0.0.1", 0)
        headers = dict(websocket.headers)
        connection = Connection(
            self.new_id(),
            client[0],
            headers.get("user-agent", ""),
            clock=self.registry.clock,
        )
        base = {
            "connection_id": connection.id,
            "connected_at": connection.connected_at,
            "api_id": self.api_id,
            "stage": self.api.stage,
            "domain": headers.get("host", "127.0.0.1"),
            "source_ip": connection.source_ip,
            "user_agent": connection.user_agent,
        }
        self.registry.add(connection)
        connected = False
        pump: asyncio.Task[None] | None = None
        close_status = (1005, "Client closed the connection")
        # Whatever happens from here (a refusal, a client gone during $connect or the
        # handshake, a server stopping), the registry forgets the connection, and $disconnect
        # follows a $connect that let it in: else both leaked, one per dropped handshake.
        try:
            refusal = await self._connect(base, headers, scope.get("query_string", b"").decode())
            if refusal is not None:
                self.registry.discard(connection)
                await _refuse(websocket, *refusal)
                return
            connected = True
            await websocket.accept()
            connection.transition(ConnectionState.CONNECTING, ConnectionState.OPEN)
            pump = asyncio.create_task(
                connection.pump(
                    _sender(websocket), lambda: websocket.close(*connection.close_status)
                )
            )
            opened = pump
            connection.abort = lambda: _abort(opened, send)
            _bound_send_buffer(send, self.registry.limits.send_buffer_bytes)
            close_status = await self._receive_messages(websocket, connection, base)
        finally:
            self.registry.discard(connection)
            if pump is not None:
                pump.cancel()
            if connected:
                self._disconnect(base, headers, close_status)

    async def _connect(
        self, base: dict[str, Any], headers: dict[str, str], query: str
    ) -> tuple[int, str] | None:
        """Run ``$connect``; the status and reason to refuse with, or None to accept."""
        function = self.api.routes.get("$connect")
        if function is None:
            return None
        event = websocket_event(
            route_key="$connect", event_type="CONNECT", headers=headers, query_string=query, **base
        )
        try:
            result = await self.invoke(function, json.dumps(event).encode())
        except FunctionError as error:
            log.warning("$connect (%s) failed: %s", function, error)
            return 500, "Internal server error"
        status = result.get("statusCode", 200) if isinstance(result, dict) else 200
        if not 200 <= int(status) < 300:
            body = result.get("body", "") if isinstance(result, dict) else ""
            return int(status), str(body or "Forbidden")
        return None

    async def _receive_messages(
        self, websocket: WebSocket, connection: Connection, base: dict[str, Any]
    ) -> tuple[int, str]:
        while True:
            try:
                message = await websocket.receive()
            except WebSocketDisconnect as closed:
                return closed.code, closed.reason or ""
            if message["type"] == "websocket.disconnect":
                return int(message.get("code", 1005)), str(message.get("reason") or "")
            body: str | bytes = message.get("text") or message.get("bytes") or ""
            size = len(body.encode() if isinstance(body, str) else body)
            if size > self.api.max_message_bytes:
                await websocket.close(MESSAGE_TOO_BIG, "Message too big")
                return MESSAGE_TOO_BIG, "Message too big"
            connection.touch()
            self.telemetry.message_received()
            self._route_message(connection, base, body)

    def _route_message(
        self, connection: Connection, base: dict[str, Any], body: str | bytes
    ) -> None:
        try:
            route_key = self._route_key(body)
        except JsonRefused as refused:
            reply = {"message": f"The message is refused: {refused}", "connectionId": connection.id}
            connection.enqueue(json.dumps(reply).encode())
            return
        function = self.api.routes.get(route_key) or self.api.routes.get("$default")
        if function is None:
            # API Gateway answers an unroutable message on the socket itself.
            error = {"message": "Forbidden", "connectionId": connection.id}
            connection.enqueue(json.dumps(error).encode())
            return
        event = websocket_event(
            route_key=route_key if route_key in self.api.routes else "$default",
            event_type="MESSAGE",
            body=body,
            **base,
        )
        payload = json.dumps(event).encode()

        def failed(error: FunctionError) -> None:
            log.warning("route %s (%s) failed: %s", route_key, function, error)
            failure = {"message": "Internal server error", "connectionId": connection.id}
            connection.enqueue(json.dumps(failure).encode())

        self._run(function, payload, failed)

    def _run(self, function: str, payload: bytes, failed: Callable[[FunctionError], None]) -> None:
        """Invoke ``function`` now if it can run at once, otherwise in a task; ``failed``
        gets the error if it fails."""
        try:
            if self.invoke_now(function, payload) is not NOT_NOW:
                return
        except FunctionError as error:
            failed(error)
            return

        async def later() -> None:
            try:
                await self.invoke(function, payload)
            except FunctionError as error:
                failed(error)

        self._background(later())

    def _route_key(self, body: str | bytes) -> str:
        if self._selection is None or isinstance(body, bytes):
            return "$default"
        try:
            value: Any = loads_strict(body)
        except JsonRefused:
            raise
        except ValueError:
            return "$default"  # not JSON: API Gateway routes it to $default
        for step in self._selection:
            if not isinstance(value, dict) or step not in value:
                return "$default"
            value = value[step]
        return value if isinstance(value, str) else "$default"

    def _disconnect(
        self, base: dict[str, Any], headers: dict[str, str], status: tuple[int, str]
    ) -> None:
        function = self.api.routes.get("$disconnect")
        if function is None:
            return
        event = websocket_event(
            route_key="$disconnect",
            event_type="DISCONNECT",
            headers=headers,
            disconnect=status,
            **base,
        )

        def failed(error: FunctionError) -> None:
            log.warning("$disconnect (%s) failed: %s", function, error)

        self._run(function, json.dumps(event).encode(), failed)

    def _background(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _selection_path(expression: str) -> list[str] | None:
    """``$request.body.action`` → ``["action"]``; anything else selects ``$default``."""
    prefix = "$request.body."
    if not expression.startswith(prefix):
        return None
    return expression[len(prefix) :].split(".")


def _sender(websocket: WebSocket) -> Callable[[bytes], Awaitable[None]]:
    async def send(data: bytes) -> None:
        if websocket.application_state is not WebSocketState.CONNECTED:
            return
        try:
            await websocket.send_text(data.decode())
        except UnicodeDecodeError:
            await websocket.send_bytes(data)

    return send


def _transport(send: Send) -> Any:
    """The server's transport behind an ASGI ``send``, where the server exposes it (uvicorn
    passes its protocol's bound method), else None."""
    return getattr(getattr(send, "__self__", None), "transport", None)


def _bound_send_buffer(send: Send, size: int) -> None:
    """Cap the kernel's send buffer of the socket (see ``SocketLimits.send_buffer_bytes``)."""
    transport = _transport(send)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


def _abort(pump: asyncio.Task[None], send: Send) -> None:
    """Tear down a socket whose send stalled: its close frame could not be sent either.

    ASGI has no abort, so this reaches the server's transport where it can (uvicorn passes its
    protocol's bound ``send``); elsewhere the server's own keepalive timeout ends the socket.
    Either way the pump stops, so what was queued for the socket is dropped and its bytes freed.
    """
    pump.cancel()
    abort = getattr(_transport(send), "abort", None)
    if callable(abort):
        abort()


async def _refuse(websocket: WebSocket, status: int, reason: str) -> None:
    """Fail the handshake with ``status``, as API Gateway does when ``$connect`` refuses."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse({"message": reason}, status_code=status))
    else:
        await websocket.close()
