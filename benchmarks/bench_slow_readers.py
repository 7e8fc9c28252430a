"""Slow readers: many WebSocket clients that never read, while pushes flow to them.

Each slow client opens ``/ws?order_id=…`` on a raw TCP socket with a tiny receive buffer, floods
the server with messages no route takes (each answered with a ``Forbidden`` frame), has an order
placed whose four stage pushes carry a large body, and never reads a byte after the handshake.
Meanwhile ordinary clients place orders and follow them to ``delivered``. The server's peak
``VmRSS`` is sampled throughout; what it must show is that memory stays bounded (outboxes are
bounded per socket and in total; stalled sockets are closed after ``--ws-send-timeout``) and
that every ordinary order completes.

    python -m benchmarks.bench_slow_readers [--sockets 1000] [--smoke]

The hostile-input suite (``tests/hostile/test_slow_readers.py``) runs the same attack.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import websockets

#: How the server is started for the attack: stalled sends are given up after 3 s.
SERVER_ARGS = ("--memory", "--ws-send-timeout", "3")


@dataclass
class AttackResult:
    """What the attack measured."""

    slow_sockets: int
    flood_messages_per_socket: int
    order_bytes: int
    rss_before_kib: int
    rss_peak_kib: int
    good_orders: int
    good_delivered: int
    seconds: float
    server_stats: dict[str, Any]

    @property
    def rss_growth_kib(self) -> int:
        return self.rss_peak_kib - self.rss_before_kib


def rss_kib(pid: int) -> int:
    """A process's resident memory (``VmRSS``), in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


class PeakSampler:
    """Samples a reading every ``interval`` seconds on a thread; keeps the highest."""

    def __init__(self, read: Callable[[], int], interval: float = 0.05) -> None:
        self.read = read
        self.peak = read()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.peak = max(self.peak, self.read())

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.read())


def _frame(text: str) -> bytes:
    """One masked client text frame (RFC 6455), as a client must send it."""
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


async def slow_client(host: str, port: int, order_id: str, flood: int) -> socket.socket:
    """Open a socket that never reads, send the handshake and ``flood`` unroutable messages."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)  # before connect: a tiny window
    sock.setblocking(False)
    await loop.sock_connect(sock, (host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    handshake = (
        f"GET /ws?order_id={order_id} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await loop.sock_sendall(sock, handshake.encode())
    # The handshake's answer is the only thing this client ever reads (frames sent before the
    # server has accepted would be read by nobody).
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = await loop.sock_recv(sock, 1)
        if not chunk:
            raise ConnectionError(f"the server closed the socket during the handshake: {answer!r}")
        answer += chunk
    if not answer.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(f"the handshake was refused: {answer.splitlines()[0]!r}")
    await loop.sock_sendall(sock, _frame('{"action":"flood"}') * flood)
    return sock


def _order(order_id: str, size: int) -> bytes:
    body = {"item": {"order_id": order_id, "eventtype": "make_pizza", "pizza": ""}}
    text = json.dumps(body)
    return text.replace('"pizza": ""', '"pizza": "' + "x" * max(0, size - len(text)) + '"').encode()


async def _good_order(url: str, ws_url: str, client: httpx.AsyncClient) -> bool:
    order_id = str(uuid.uuid4())
    async with websockets.connect(f"{ws_url}?order_id={order_id}") as follower:
        answer = await client.post(url + "/", content=_order(order_id, 200))
        if answer.status_code != 200:
            return False
        async with asyncio.timeout(60):
            async for frame in follower:
                if json.loads(frame)["item"]["eventtype"] == "delivered":
                    return True
    return False


async def attack(
    url: str,
    pid: int,
    *,
    sockets: int,
    flood: int = 200,
    order_bytes: int = 16 * 1024,
    good_orders: int = 20,
    settle: float = 5.0,
    admin_token: str | None = None,
) -> AttackResult:
    """Run the slow-reader attack on the server at ``url`` (process ``pid``); the admin
    token (default: ``PIZZABUS_ADMIN_TOKEN``) reads the server's stats at the end."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    ws_url = url.replace("http://", "ws://") + "/ws"
    started = time.monotonic()
    before = rss_kib(pid)
    order_ids = [str(uuid.uuid4()) for _ in range(sockets)]
    held: list[socket.socket] = []
    with PeakSampler(lambda: rss_kib(pid)) as sampler:
        gate = asyncio.Semaphore(64)

        async def open_one(order_id: str) -> None:
            async with gate:
                held.append(await slow_client(host, port, order_id, flood))

        await asyncio.gather(*(open_one(o) for o in order_ids))
        limits = httpx.Limits(max_connections=32)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            posting = asyncio.Semaphore(32)

            async def push_to(order_id: str) -> None:
                async with posting:
                    await client.post(url + "/", content=_order(order_id, order_bytes))

            pushes = asyncio.gather(*(push_to(o) for o in order_ids))
            good = await asyncio.gather(
                *(_good_order(url, ws_url, client) for _ in range(good_orders))
            )
            await pushes
            await asyncio.sleep(settle)  # stalled sends time out and their sockets are closed
            headers = _admin_headers(admin_token)
            stats = (await client.get(f"{url}/_pizzabus/stats", headers=headers)).json()
    for sock in held:
        sock.close()
    return AttackResult(
        slow_sockets=sockets,
        flood_messages_per_socket=flood,
        order_bytes=order_bytes,
        rss_before_kib=before,
        rss_peak_kib=sampler.peak,
        good_orders=good_orders,
        good_delivered=sum(good),
        seconds=round(time.monotonic() - started, 1),
        server_stats={k: stats.get(k) for k in ("connections", "sockets", "deliveries")},
    )


def _admin_headers(token: str | None) -> dict[str, str]:
    from pizzabus.access.tokens import ADMIN_TOKEN_ENV, TOKEN_HEADER

    token = token or os.environ.get(ADMIN_TOKEN_ENV)
    return {TOKEN_HEADER: token} if token else {}


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.common import pizzabus_command, raise_fd_limit, serving, write_json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--smoke", action="store_true", help="100 sockets")
    args = parser.parse_args(argv)
    raise_fd_limit()
    count = 100 if args.smoke else args.sockets
    token = secrets.token_urlsafe(24)  # to read the server's stats at the end
    command = pizzabus_command(*SERVER_ARGS, "--admin-token", token)
    with serving("pizzabus", command) as server:
        result = asyncio.run(
            attack(server.url, server.process.pid, sockets=count, admin_token=token)
        )
    row = {**asdict(result), "rss_growth_kib": result.rss_growth_kib}
    print(json.dumps(row, indent=2))
    write_json("slow_readers", row, smoke=args.smoke)
    return 0 if result.good_delivered == result.good_orders else 1


if __name__ == "__main__":
    raise SystemExit(main())
