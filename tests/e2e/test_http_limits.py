"""HTTP limits at the edge, over real sockets: headers too large (431), headers or a body that
stop arriving (408, closed), and a cap on open connections (503); the server keeps serving."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.orders import new_order
from tests.e2e.server import Server, start_server

pytestmark = pytest.mark.e2e

#: Waiting longer than this for a limit to act means it did not.
PATIENCE = 30.0


@pytest.fixture(scope="module")
def strict() -> Iterator[Server]:
    running = start_server(
        (
            "--memory",
            "--header-timeout",
            "1",
            # Longer than the pauses of the body sent in pieces, even on a loaded machine.
            "--body-timeout",
            "3",
            "--max-header-bytes",
            "4096",
        )
    )
    yield running
    running.stop()


def _connect(server: Server) -> socket.socket:
    parts = urlsplit(server.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=PATIENCE)
    return sock


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _still_serves(server: Server) -> None:
    response = httpx.post(f"{server.url}/", json=new_order(), timeout=10)
    assert response.status_code == 200, response.text


def test_half_open_requests_are_answered_408_and_closed(strict: Server) -> None:
    sockets = [_connect(strict) for _ in range(50)]
    try:
        for sock in sockets:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl")
        for sock in sockets:
            assert _answer(sock).startswith(b"HTTP/1.1 408 ")
    finally:
        for sock in sockets:
            sock.close()
    _still_serves(strict)


def test_a_connection_that_sends_nothing_is_closed(strict: Server) -> None:
    with _connect(strict) as sock:
        assert _answer(sock).startswith(b"HTTP/1.1 408 ")


@pytest.mark.parametrize("whole", [True, False], ids=["in-one-read", "never-ending"])
def test_headers_over_the_limit_get_431(strict: Server, whole: bool) -> None:
    request = b"GET /orders/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 5000
    with _connect(strict) as sock:
        sock.sendall(request + (b"\r\n\r\n" if whole else b""))
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"4096 bytes" in answer
    _still_serves(strict)


def test_a_body_that_stops_arriving_gets_408_and_is_closed(strict: Server) -> None:
    with _connect(strict) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"item": '
        )
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    _still_serves(strict)


def test_a_body_sent_in_pieces_in_time_is_served(strict: Server) -> None:
    body = httpx.Request("POST", "/", json=new_order()).read()
    with _connect(strict) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        for index in range(0, len(body), 20):
            sock.sendall(body[index : index + 20])
            time.sleep(0.05)
        assert _answer(sock).startswith(b"HTTP/1.1 200 ")


def test_connections_beyond_the_cap_get_503_and_the_server_recovers() -> None:
    capped = start_server(("--memory", "--max-connections", "10", "--header-timeout", "60"))
    try:
        # Connections are accepted in the order they were made: the eleventh finds ten open.
        held = [_connect(capped) for _ in range(10)]
        with _connect(capped) as refused:
            assert _answer(refused).startswith(b"HTTP/1.1 503 ")
        for sock in held:
            sock.close()
        deadline = time.monotonic() + PATIENCE
        while True:
            try:
                _still_serves(capped)
                break
            except (AssertionError, httpx.TransportError):
                assert time.monotonic() < deadline, "the server never took connections again"
                time.sleep(0.1)
    finally:
        capped.stop()
