"""``pizzabus serve --tables postgresql://...``: the lab on PostgreSQL, a kill -9, a restart of
PostgreSQL under load, and the one-line refusals at start."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from pizzabus.devservers.postgres import free_port
from tests.e2e.orders import STAGES, new_order
from tests.e2e.server import REPO, Server, start_server
from tests.support.postgres import private_postgres, with_database

pytestmark = pytest.mark.e2e

ORDERS = 20


async def _post(server: Server, client: httpx.AsyncClient) -> str | None:
    order = new_order()
    try:
        response = await client.post(server.url + "/", json=order)
    except httpx.TransportError:
        return None
    if response.status_code == 200 and response.json()["FailedEntryCount"] == 0:
        return str(order["item"]["order_id"])
    return None


async def _stages(server: Server, client: httpx.AsyncClient, order_id: str) -> list[str]:
    try:
        response = await client.get(f"{server.url}/orders/{order_id}")
    except httpx.TransportError:
        return []
    if response.status_code != 200:
        return []
    return [event["item"]["eventtype"] for event in response.json()["events"]]


async def _await_delivered(
    server: Server, client: httpx.AsyncClient, orders: list[str], seconds: float
) -> dict[str, list[str]]:
    """Each order's timeline, once all are delivered (or ``seconds`` pass)."""
    timelines: dict[str, list[str]] = {}
    deadline = time.monotonic() + seconds
    pending = list(orders)
    while pending and time.monotonic() < deadline:
        for order_id in list(pending):
            timelines[order_id] = await _stages(server, client, order_id)
            if "delivered" in timelines[order_id]:
                pending.remove(order_id)
        if pending:
            await asyncio.sleep(0.3)
    return timelines


@pytest.mark.timeout(240)
async def test_the_lab_on_postgresql_survives_kill_9_into_a_server_with_an_empty_data_dir(
    postgres_dsn: str, tmp_path: Path
) -> None:
    # GIVEN a server keeping its tables in PostgreSQL, and 20 orders delivered through it
    first = start_server(("--data-dir", str(tmp_path / "a"), "--tables", postgres_dsn))
    async with httpx.AsyncClient(timeout=10) as client:
        try:
            assert "PostgreSQL postgres@" in "".join(first.output)
            placed = await asyncio.gather(*(_post(first, client) for _ in range(ORDERS)))
            orders = [o for o in placed if o is not None]
            assert len(orders) == ORDERS
            timelines = await _await_delivered(first, client, orders, 60)
            assert all(timelines[o] == STAGES for o in orders), timelines
            # Table calls wait for PostgreSQL: no handler ran inline on the server's loop.
            functions = first.stats()["functions"]
            assert isinstance(functions, dict)
            assert all(f["inline_invocations"] == 0 for f in functions.values()), functions
        finally:
            # WHEN it is killed (kill -9)
            first.stop(signal.SIGKILL)

        # THEN a new server with an empty data directory and the same DSN answers every order
        second = start_server(("--data-dir", str(tmp_path / "b"), "--tables", postgres_dsn))
        try:
            for order_id in orders:
                assert await _stages(second, client, order_id) == STAGES
        finally:
            second.stop()

    # AND psql shows one table per definition table
    with psycopg.connect(postgres_dsn) as connection:
        names = {
            name
            for (name,) in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        }
    assert {"websocket_connections", "order_timeline", "pizzabus_tables"} <= names


@pytest.mark.timeout(240)
async def test_orders_posted_while_postgresql_restarts_are_all_delivered_exactly_once(
    tmp_path: Path,
) -> None:
    # Always a private server: restarting the shared one would break other people's tests.
    database = private_postgres()
    server = start_server(("--data-dir", str(tmp_path / "data"), "--tables", database.dsn))
    accepted: list[str] = []
    stop = asyncio.Event()

    async def load(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            order_id = await _post(server, client)
            if order_id is not None:
                accepted.append(order_id)
            await asyncio.sleep(0.02)

    try:
        async with httpx.AsyncClient(timeout=10) as client:
            loaders = [asyncio.create_task(load(client)) for _ in range(4)]
            await asyncio.sleep(1.5)
            before = len(accepted)
            # WHEN PostgreSQL stops (ending every session) and comes back under load
            await asyncio.to_thread(database.stop, "fast")
            await asyncio.sleep(1.0)
            await asyncio.to_thread(database.start)
            await asyncio.sleep(1.5)
            stop.set()
            await asyncio.gather(*loaders)

            # THEN every accepted order is delivered, each stage written once
            timelines = await _await_delivered(server, client, accepted, 120)
        failed = server.stats()
    finally:
        server.stop()
        database.close()

    # Orders ran on both sides of the restart.
    assert before > 0
    assert len(accepted) > before
    missing = [o for o in accepted if timelines.get(o) != STAGES]
    assert missing == [], {o: timelines.get(o) for o in missing[:5]}
    # The table calls during the outage failed and their invocations were retried.
    assert failed["deliveries"]["failed_attempts"] > 0  # type: ignore[index]


def _serve_once(tmp_path: Path, dsn: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pizzabus",
            "serve",
            "--port",
            "0",
            "--tables",
            dsn,
            "--data-dir",
            str(tmp_path / "data"),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )


@pytest.mark.parametrize("case", ["unreachable", "missing-database", "bad-dsn"])
def test_serve_refuses_a_postgresql_it_cannot_use_in_one_line_without_the_password(
    case: str, postgres_server: str, tmp_path: Path
) -> None:
    dsn = {
        "unreachable": f"postgresql://postgres:s3cret@127.0.0.1:{free_port()}/orders",
        "missing-database": with_database(postgres_server, "pizzabus_no_such_db").replace(
            "postgres@", "postgres:s3cret@", 1
        ),
        "bad-dsn": "postgresql://postgres:s3cret@127.0.0.1:notaport/orders",
    }[case]

    done = _serve_once(tmp_path, dsn)

    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "s3cret" not in done.stderr + done.stdout
    if case != "bad-dsn":
        assert "127.0.0.1" in lines[0]
        assert ("orders" if case == "unreachable" else "pizzabus_no_such_db") in lines[0]
