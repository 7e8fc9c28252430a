"""PostgreSQL restarted under a cluster's load: the tables' calls fail for a moment, the
invocations that made them are retried (EventBridge's policy, by ``nak(delay=…)``), and every
order completes. On a private PostgreSQL server: never the shared one, which other tests use."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pizzabus.devservers.nats import NatsServer
from pizzabus.devservers.postgres import PostgresServer
from tests.distributed.cluster import start_gateway, start_workers
from tests.distributed.flows import connect_retrying, follow_on_a_post_to_b, post_until_accepted
from tests.e2e.orders import STAGES, new_order
from tests.e2e.server import Server
from tests.support.postgres import create_database, private_postgres

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ORDERS = 40


#: What a synchronous invocation that reads the tables while PostgreSQL is down answers (it
#: fails, as Lambda's would): the socket's ``sync`` may get it.
SYNC_FAILED = "Internal server error"
#: A message no route takes: the gateway answers it on the socket, behind every frame posted
#: before it (see ``tests/e2e/orders.py::rest_of``).
END_MARKER = "end of test: no route takes this"


async def frames_of(socket: Any, until: str, timeout: float = 90) -> list[str]:
    """The stages a socket receives until ``until`` (a stage, or the end marker's answer
    ``Forbidden``), past the failed answers of its ``sync`` action. ``timeout`` is a failure
    guard: what arrived by then is returned, for the assertion to show."""
    stages: list[str] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            async for frame in socket:
                message = json.loads(frame)
                if "item" not in message:
                    if message.get("message") == until:
                        break
                    assert message.get("message") == SYNC_FAILED, frame
                    continue
                stages.append(message["item"]["eventtype"])
                if stages[-1] == until:
                    break
    return stages


async def everything(socket: Any, gateway: Server) -> list[str]:
    """Every stage the socket gets: up to ``delivered``, then whatever still comes before the
    end marker, sent once the cluster has nothing left to deliver (so a late duplicate shows,
    however slow the machine)."""
    stages = await frames_of(socket, STAGES[-1])
    async with asyncio.timeout(90):  # a failure guard only
        while await asyncio.to_thread(_busy, gateway):
            await asyncio.sleep(0.1)
    await socket.send(END_MARKER)
    return stages + await frames_of(socket, "Forbidden")


def _busy(gateway: Server) -> bool:
    return bool(gateway.stats()["backlog"])


async def many(a: Server, b: Server, count: int) -> list[tuple[str, list[str]]]:
    """``count`` orders, eight at a time: each one's socket on ``a``, its POST to ``b``."""
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(timeout=30) as client:

        async def one() -> tuple[str, list[str]]:
            async with gate:
                order = new_order()
                order_id = order["item"]["order_id"]
                url = f"{a.ws_url}?order_id={order_id}"
                async with await connect_retrying(url, attempts=10) as socket:
                    await socket.send(json.dumps({"action": "sync"}))
                    await post_until_accepted(b, client, order)
                    return order_id, await everything(socket, a)

        return await asyncio.gather(*(one() for _ in range(count)))


@pytest.fixture
def restartable_postgres() -> Iterator[PostgresServer]:
    server = private_postgres()
    try:
        yield server
    finally:
        server.close()


async def test_postgresql_restarted_in_the_middle_of_a_load_invocations_retry_and_complete(
    nats_server: NatsServer, restartable_postgres: PostgresServer
) -> None:
    nats_url = nats_server.url
    tables = create_database(restartable_postgres.dsn)
    gateways = [start_gateway(nats_url, tables) for _ in range(2)]
    workers = None
    try:
        a, b = gateways
        # At info the workers log each failed attempt and its retry.
        workers = start_workers(nats_url, tables, a.url, 2, "--log-level", "info")
        workers.wait_ready(2)
        load = asyncio.create_task(many(a, b, ORDERS))

        async def published() -> int:
            stats = await asyncio.to_thread(b.stats)
            return int(stats["events_published"])  # type: ignore[call-overload]

        # Restart once the load is under way (orders accepted, handlers running), not on a timer.
        while await published() < 8 and not load.done():
            await asyncio.sleep(0.1)
        assert not load.done(), "the load ended before PostgreSQL could be restarted"
        await asyncio.to_thread(restartable_postgres.restart, "immediate")
        timelines = await load
        # Every socket got every stage exactly once, in order: a push that failed while
        # PostgreSQL was down was retried, and none was left behind a lease nobody let go of.
        assert [order for order, stages in timelines if stages != STAGES] == [], timelines
        # The restart did hit invocations. Which kind it caught (a bus delivery, retried with
        # backoff, or only a synchronous $connect/$disconnect, answered with an error) depends on
        # what was running at that instant, so the proof of the retries is the assertion above.
        output = "".join(workers.output)
        assert "failed" in output, output
        # And the cluster goes on serving on the restarted server.
        async with httpx.AsyncClient(timeout=30) as client:
            assert await follow_on_a_post_to_b(a, b, client) == STAGES
    finally:
        if workers is not None:
            workers.stop()
        for gateway in gateways:
            gateway.stop()
