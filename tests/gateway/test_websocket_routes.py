"""The WebSocket API routes each message as API Gateway does: by the route selection
expression, else ``$default`` (with ``routeKey`` saying ``$default``), binary frames base64.

The gateway is driven through its ASGI interface, one message at a time, so every step is
awaited: no sleeps, and a wait ends as soon as what it waits for arrives."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from pizzabus.contracts.invoker import Invocations
from pizzabus.gateway.connections import ConnectionRegistry
from pizzabus.gateway.websocket_api import WebSocketGateway
from pizzabus.system import WebSocketApi

#: A failure guard only: each wait ends as soon as what it waits for arrives.
GUARD_SECONDS = 30

ROUTES = {
    "$connect": "on_connect",
    "$disconnect": "on_disconnect",
    "$default": "on_default",
    "sync": "on_sync",
}


class Recorded:
    """The gateway's invoke: records each (function, event), answers ``answers[function]``."""

    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.calls: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.answers = answers or {}

    async def __call__(self, function: str, payload: bytes) -> Any:
        await self.calls.put((function, json.loads(payload)))
        return self.answers.get(function, {"statusCode": 200})

    async def next(self) -> tuple[str, dict[str, Any]]:
        return await asyncio.wait_for(self.calls.get(), GUARD_SECONDS)


class Socket:
    """One client of the gateway, speaking ASGI's WebSocket messages to it."""

    def __init__(self, gateway: WebSocketGateway, query: str = "", **headers: str) -> None:
        self._in: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._out: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {
            "type": "websocket",
            "path": "/ws",
            "query_string": query.encode(),
            "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "extensions": {"websocket.http.response": {}},
            "subprotocols": [],
        }
        self.task = asyncio.create_task(gateway(scope, self._in.get, self._out.put))

    async def connect(self) -> str:
        """Open the socket: ``websocket.accept``, or the refusal's first message type."""
        await self._in.put({"type": "websocket.connect"})
        return str((await self.receive())["type"])

    async def send(self, frame: str | bytes) -> None:
        key = "bytes" if isinstance(frame, bytes) else "text"
        await self._in.put({"type": "websocket.receive", key: frame})

    async def receive(self) -> dict[str, Any]:
        return await asyncio.wait_for(self._out.get(), GUARD_SECONDS)

    async def close(self) -> None:
        await self._in.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(self.task, GUARD_SECONDS)


def _gateway(
    routes: dict[str, str] = ROUTES,
    expression: str = "$request.body.action",
    answers: dict[str, Any] | None = None,
) -> tuple[WebSocketGateway, Recorded]:
    invocations = Recorded(answers)
    api = WebSocketApi("ws_api", routes, route_selection_expression=expression)
    registry = ConnectionRegistry("ws_api", max_message_bytes=api.max_message_bytes)
    registry.bind(asyncio.get_running_loop())
    return WebSocketGateway(api, registry, Invocations(invocations), api_id="abc123"), invocations


async def _message_event(frame: str | bytes) -> tuple[str, dict[str, Any]]:
    gateway, invocations = _gateway()
    socket = Socket(gateway, "order_id=o1")
    assert await socket.connect() == "websocket.accept"
    assert (await invocations.next())[0] == "on_connect"
    await socket.send(frame)
    invoked = await invocations.next()
    await socket.close()
    return invoked


@pytest.mark.parametrize(
    ("frame", "function", "route_key"),
    [
        pytest.param('{"action": "sync"}', "on_sync", "sync", id="selected-route"),
        pytest.param('{"action": "nope"}', "on_default", "$default", id="unknown-action"),
        pytest.param('{"action": 5}', "on_default", "$default", id="action-not-a-string"),
        pytest.param('{"verb": "sync"}', "on_default", "$default", id="no-action"),
        pytest.param('["sync"]', "on_default", "$default", id="not-an-object"),
        pytest.param("sync", "on_default", "$default", id="not-json"),
    ],
)
async def test_a_message_goes_to_its_route_or_to_default_whose_event_says_default(
    frame: str, function: str, route_key: str
) -> None:
    invoked, event = await _message_event(frame)
    assert (invoked, event["requestContext"]["routeKey"]) == (function, route_key)
    assert event["requestContext"]["eventType"] == "MESSAGE"
    assert event["body"] == frame
    assert event["isBase64Encoded"] is False


async def test_a_binary_frame_goes_to_default_base64_encoded() -> None:
    frame = b'{"action": "sync"}\xff'
    invoked, event = await _message_event(frame)
    assert (invoked, event["requestContext"]["routeKey"]) == ("on_default", "$default")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == frame


async def test_a_nested_selection_expression_selects_on_the_nested_value() -> None:
    gateway, invocations = _gateway(
        {"$default": "on_default", "ping": "on_ping"}, "$request.body.meta.kind"
    )
    socket = Socket(gateway)
    assert await socket.connect() == "websocket.accept"
    await socket.send('{"meta": {"kind": "ping"}}')
    assert (await invocations.next())[1]["requestContext"]["routeKey"] == "ping"
    await socket.send('{"meta": "ping"}')
    assert (await invocations.next())[1]["requestContext"]["routeKey"] == "$default"
    await socket.close()


async def test_an_unroutable_message_without_default_is_answered_forbidden_on_the_socket() -> None:
    gateway, invocations = _gateway({"sync": "on_sync"})
    socket = Socket(gateway)
    assert await socket.connect() == "websocket.accept"
    await socket.send('{"action": "nope"}')
    answer = json.loads((await socket.receive())["text"])
    await socket.send('{"action": "sync"}')
    assert (await invocations.next())[0] == "on_sync"  # the socket stays open and routable
    await socket.close()
    assert answer["message"] == "Forbidden"
    assert answer["connectionId"]


async def test_connect_gets_the_query_string_and_headers_and_disconnect_runs_on_close() -> None:
    gateway, invocations = _gateway()
    socket = Socket(gateway, "order_id=o1&order_id=o2&x=", x_trace="t1")
    assert await socket.connect() == "websocket.accept"
    function, connect = await invocations.next()
    await socket.close()
    assert function == "on_connect"
    assert connect["requestContext"]["routeKey"] == "$connect"
    assert connect["queryStringParameters"] == {"order_id": "o2", "x": ""}
    assert connect["multiValueQueryStringParameters"] == {"order_id": ["o1", "o2"], "x": [""]}
    assert connect["headers"]["x-trace"] == "t1"
    assert connect["multiValueHeaders"]["x-trace"] == ["t1"]
    function, disconnect = await invocations.next()
    assert function == "on_disconnect"
    assert disconnect["requestContext"]["routeKey"] == "$disconnect"
    assert disconnect["requestContext"]["connectionId"] == connect["requestContext"]["connectionId"]


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        pytest.param({"statusCode": 403, "body": "no"}, 403, id="403"),
        pytest.param({"statusCode": 199}, 199, id="below-200"),
        pytest.param({"statusCode": 300}, 300, id="300"),
    ],
)
async def test_connect_refuses_the_socket_on_a_non_2xx_answer(
    answer: dict[str, Any], status: int
) -> None:
    gateway, invocations = _gateway(answers={"on_connect": answer})
    socket = Socket(gateway)
    assert await socket.connect() == "websocket.http.response.start"
    await asyncio.wait_for(socket.task, GUARD_SECONDS)
    assert (await invocations.next())[0] == "on_connect"
    assert invocations.calls.empty()  # a refused socket never connected: no $disconnect


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"statusCode": 200}, id="200"),
        pytest.param({"statusCode": 299}, id="299"),
        pytest.param({}, id="no-status-code"),
        pytest.param(None, id="nothing"),
    ],
)
async def test_connect_accepts_the_socket_on_a_2xx_or_no_status(answer: Any) -> None:
    gateway, invocations = _gateway(answers={"on_connect": answer})
    socket = Socket(gateway)
    assert await socket.connect() == "websocket.accept"
    await socket.send('{"action": "sync"}')
    assert (await invocations.next())[0] == "on_connect"
    assert (await invocations.next())[0] == "on_sync"
    await socket.close()
