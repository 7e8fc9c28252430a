"""The control routes' door: which Host names a server answers to, and who holds the token."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from pizzabus.gateway.app import Gateway
from pizzabus.gateway.guard import ControlGuard, allowed_hosts, json_refusal

TOKEN = "the-admin-token-of-this-server"


def _scope(host: str | None, headers: dict[str, str] | None = None, query: str = "") -> dict:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if host is not None:
        raw.append((b"host", host.encode()))
    return {"type": "http", "headers": raw, "query_string": query.encode()}


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        (
            "http://127.0.0.1:8123",
            {"127.0.0.1:8123", "localhost:8123", "[::1]:8123"},
        ),
        ("http://[::1]:9", {"[::1]:9", "localhost:9", "127.0.0.1:9"}),
        ("http://0.0.0.0:80", {"0.0.0.0:80", "0.0.0.0", "localhost", "localhost:80", "[::1]"}),
        ("http://pizza.lan:8000", {"pizza.lan:8000"}),
    ],
)
def test_allowed_hosts_are_the_bound_name_and_loopback_names(
    base_url: str, expected: set[str]
) -> None:
    assert expected <= allowed_hosts(base_url)
    if "pizza.lan" in base_url:
        assert allowed_hosts(base_url) == frozenset(expected)


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:8123", True),
        ("localhost:8123", True),
        ("192.168.1.5:8123", True),  # an IP literal cannot be rebound
        ("[fe80::1]:8123", True),
        ("localhost:9999", False),
        ("evil.example:8123", False),
        ("", False),
    ],
)
def test_the_host_check(host: str, allowed: bool) -> None:
    guard = ControlGuard(TOKEN, allowed_hosts("http://127.0.0.1:8123"))
    refusal = guard.host_refusal(_scope(host or None))
    assert (refusal is None) == allowed
    if refusal is not None:
        assert refusal[0] == 421


@pytest.mark.parametrize(
    ("headers", "query", "admitted"),
    [
        ({"X-Pizzabus-Token": TOKEN}, "", True),
        ({"Authorization": f"Bearer {TOKEN}"}, "", True),
        ({"Cookie": f"pizzabus_admin={TOKEN}"}, "", True),
        ({}, f"token={TOKEN}", True),
        ({}, "token=nope", False),
        ({"X-Pizzabus-Token": "nope"}, "", False),
        ({}, "", False),
    ],
    ids=["header", "bearer", "cookie", "query", "bad-query", "bad-header", "none"],
)
def test_the_token_check(headers: dict[str, str], query: str, admitted: bool) -> None:
    guard = ControlGuard(TOKEN, allowed_hosts("http://127.0.0.1:8123"))
    refusal = guard.token_refusal(_scope("127.0.0.1:8123", headers, query))
    assert (refusal is None) == admitted


def test_a_refusal_is_json_and_a_401_says_how_to_authenticate() -> None:
    start, body = json_refusal(401, {"message": "no"})
    assert start["status"] == 401
    headers = dict(start["headers"])  # type: ignore[arg-type]
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"www-authenticate"].startswith(b"Bearer")
    assert body == b'{"message": "no"}'
    start, _ = json_refusal(421, {"message": "no"})
    assert b"www-authenticate" not in dict(start["headers"])  # type: ignore[arg-type]


def _console_gateway() -> Gateway:
    async def live(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("live")
        await websocket.close()

    app = Starlette(routes=[WebSocketRoute("/_pizzabus/live", live)])
    guard = ControlGuard(TOKEN, allowed_hosts("http://127.0.0.1:8123"))
    return Gateway(app, "/ws", None, guard=guard)


async def _handshake(query: str = "", host: str = "127.0.0.1:8123") -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"type": "websocket.connect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/_pizzabus/live",
        "raw_path": b"/_pizzabus/live",
        "query_string": query.encode(),
        "headers": [(b"host", host.encode())],
        "scheme": "ws",
        "server": ("127.0.0.1", 8123),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "subprotocols": [],
        "asgi": {"version": "3.0"},
    }
    await _console_gateway()(scope, receive, send)
    return sent


async def test_a_console_socket_needs_the_token_and_a_host_of_the_server() -> None:
    refused = [{"type": "websocket.close", "code": 1008}]
    assert await _handshake() == refused
    assert await _handshake(f"token={TOKEN}", host="evil.example:8123") == refused
    admitted = await _handshake(f"token={TOKEN}")
    assert admitted[0]["type"] == "websocket.accept"
    assert admitted[1] == {"type": "websocket.send", "text": "live"}
