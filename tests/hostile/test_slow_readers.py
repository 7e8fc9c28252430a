"""Many sockets that never read, while pushes flow to them: the server's memory stays bounded
and every other order completes. ``benchmarks/bench_slow_readers.py`` runs the same attack with
1,000 sockets (its figures are in benchmarks/README.md); this one uses 300 to stay quick."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from benchmarks.bench_slow_readers import SERVER_ARGS, attack, slow_client

from pizzabus.access.tokens import ADMIN_TOKEN_ENV
from tests.e2e.server import Server, start_server
from tests.hostile.conftest import ADMIN_HEADERS, TOKEN, assert_no_traceback

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="reads the server's memory from /proc"
    ),
]

SLOW_SOCKETS = 300
#: The bound on the server's memory growth under the attack. It holds the 300 orders' stages
#: in the in-memory tables and archive (300 x 4 x 4 KiB, about 5 MiB with indexes), the sockets
#: (about 20 KiB each), and what waits for the slow readers: each outbox is bounded (1 MiB, 64
#: MiB in all), and the transport holds at most its 64 KiB high-water mark per socket.
MAX_RSS_GROWTH_KIB = 96 * 1024


@pytest.fixture(scope="module")
def attacked() -> Iterator[Server]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv(ADMIN_TOKEN_ENV, TOKEN)
        running = start_server(SERVER_ARGS)
    yield running
    running.stop()
    assert_no_traceback(running)


async def test_a_socket_whose_sends_stall_is_aborted_and_disconnected(attacked: Server) -> None:
    # GIVEN a client that never reads, and makes the server answer 20,000 unroutable messages
    # (1.6 MB of Forbidden frames: more than its send buffers hold)
    parts = urlsplit(attacked.url)
    start = _stats(attacked)
    before, connections = start["sockets"]["closed_by_limit"]["stalled"], start["connections"]
    sock = await slow_client(parts.hostname or "", parts.port or 0, str(uuid.uuid4()), 20_000)
    try:
        # THEN once a send has stalled past --ws-send-timeout (3 s), the socket is aborted,
        # and $disconnect has run (the connection is gone)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            stats = _stats(attacked)
            stalled = stats["sockets"]["closed_by_limit"]["stalled"]
            if stalled > before and stats["connections"] == connections:
                break
            await asyncio.sleep(0.2)
        assert stats["sockets"]["closed_by_limit"]["stalled"] == before + 1
        assert stats["connections"] == connections
        assert stats["sockets"]["outbox_bytes"] == 0
    finally:
        sock.close()


def _stats(server: Server) -> dict[str, Any]:
    answer = httpx.get(f"{server.url}/_pizzabus/stats", headers=ADMIN_HEADERS, timeout=10)
    answer.raise_for_status()
    stats: dict[str, Any] = answer.json()
    return stats


async def test_slow_readers_hold_bounded_memory_and_every_other_order_completes(
    attacked: Server,
) -> None:
    result = await attack(
        attacked.url,
        attacked.process.pid,
        sockets=SLOW_SOCKETS,
        flood=100,
        order_bytes=4096,
        good_orders=20,
        settle=1.0,
        admin_token=TOKEN,
    )
    print(
        f"slow readers: {result.slow_sockets} sockets, peak RSS {result.rss_peak_kib} KiB "
        f"(+{result.rss_growth_kib} KiB), {result.good_delivered}/{result.good_orders} "
        f"other orders delivered, {result.seconds} s"
    )
    assert result.good_delivered == result.good_orders
    assert result.rss_growth_kib < MAX_RSS_GROWTH_KIB
    deliveries = result.server_stats["deliveries"]
    assert deliveries["dead_lettered"] == 0
    assert attacked.process.poll() is None
