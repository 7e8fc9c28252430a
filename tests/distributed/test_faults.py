"""The faults the distributed runtime must survive, each on a private nats-server and a fresh
PostgreSQL database."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest
import websockets

from pizzabus.devservers.nats import NatsServer, free_port
from tests.distributed.cluster import running_cluster, start_gateway, start_workers
from tests.distributed.flows import follow_on_a_post_to_b
from tests.e2e.orders import STAGES, collect, new_order, silent_for
from tests.e2e.server import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def _wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout} s")


async def test_with_no_worker_an_accepted_order_waits_then_completes_when_one_starts(
    nats_server: NatsServer, postgres_dsn: str
) -> None:
    tables = postgres_dsn
    gateway = start_gateway(nats_server.url, tables)
    try:
        order = new_order()
        order_id = order["item"]["order_id"]
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(gateway.url + "/", json=order)
        assert response.status_code == 200
        assert response.json()["FailedEntryCount"] == 0
        _wait_for(lambda: gateway.stats()["backlog"] >= 1, 10, "the backlog showing the order")
        workers = start_workers(nats_server.url, tables, gateway.url, 1)
        try:
            workers.wait_ready(1)
            async with websockets.connect(f"{gateway.ws_url}?order_id={order_id}") as socket:
                await socket.send(json.dumps({"action": "sync"}))
                assert await collect(socket, timeout=60) == STAGES
                assert await silent_for(socket, 0.5) == []
        finally:
            workers.stop()
    finally:
        gateway.stop()


async def test_a_burst_past_the_backlog_bound_is_throttled_before_the_backlog_is_polled_again(
    nats_server: NatsServer, postgres_dsn: str
) -> None:
    """The gateway reads the backlog from JetStream every half second; the events it stores
    in between count too, so a burst is throttled at the bound, not a poll later. (No worker
    runs: every accepted event waits.)"""
    bound = 10
    gateway = start_gateway(nats_server.url, postgres_dsn, "--max-in-flight", str(bound))
    try:
        codes: list[str] = []
        async with httpx.AsyncClient(timeout=10) as client:
            for _ in range(3 * bound):
                response = await client.post(gateway.url + "/", json=new_order())
                assert response.status_code == 200, response.text
                codes.append(response.json()["Entries"][0].get("ErrorCode", "accepted"))
        accepted = codes.count("accepted")
        assert 1 <= accepted <= bound, codes
        assert codes.count("ThrottlingException") == len(codes) - accepted, codes
    finally:
        gateway.stop()


def test_a_gateway_whose_nats_is_unreachable_says_what_to_check_in_one_line() -> None:
    port = free_port()
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pizzabus", "serve", "--port", "0"),
            *("--nats", f"nats://127.0.0.1:{port}", "--tables", "postgresql://127.0.0.1:1/unused"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert f"cannot reach NATS at nats://127.0.0.1:{port}" in lines[0]
    assert "nats-server" in lines[0]


async def test_a_handler_calling_os_exit_kills_only_its_worker_which_restarts_and_retries(
    nats_server: NatsServer,
    postgres_dsn: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    crash_dir = tmp_path / "crashes"
    crash_dir.mkdir()
    monkeypatch.setenv("CRASH_DIR", str(crash_dir))
    system = ("--system", "tests.distributed.crash_system:SYSTEM")
    with running_cluster(nats_server.url, postgres_dsn, 1, 2, *system) as cluster:
        (gateway,) = cluster.gateways
        assert cluster.workers is not None
        workers = cluster.workers
        order = new_order("crash")
        order_id = order["item"]["order_id"]
        async with httpx.AsyncClient(timeout=30) as client:
            assert (await client.post(gateway.url + "/", json=order)).status_code == 200
        _wait_for(
            lambda: "exited (status 1); restarting" in "".join(workers.output),
            60,
            "the supervisor restarting the crashed worker",
        )
        # The socket opens after the crash: a synchronous invocation (its $connect, its sync)
        # in flight on the dying process would fail with a 500, as on Lambda; that is not what
        # this test is about. The lab's own stages are untouched by the crashing function.
        async with websockets.connect(f"{gateway.ws_url}?order_id={order_id}") as socket:
            await socket.send(json.dumps({"action": "sync"}))
            assert await collect(socket, timeout=60) == STAGES
        done = crash_dir / f"{order_id}.done"
        _wait_for(done.exists, 60, "the crashed invocation running again")
        assert gateway.process.poll() is None


async def test_a_worker_dying_mid_invocation_fails_its_synchronous_caller_without_waiting(
    nats_server: NatsServer, postgres_dsn: str
) -> None:
    """GET /exit runs a function that kills its worker process, with a 900 s timeout. The
    gateway learns that the worker running it is gone and answers at once, as API Gateway does
    when Lambda's runtime exits, instead of waiting out the timeout. (The client's timeout is
    only a failure guard, far below 900 s.)"""
    system = ("--system", "tests.distributed.crash_system:SYSTEM")
    with running_cluster(nats_server.url, postgres_dsn, 1, 1, *system) as cluster:
        (gateway,) = cluster.gateways
        assert cluster.workers is not None
        async with httpx.AsyncClient(timeout=60) as client:
            response = await client.get(gateway.url + "/exit")
            assert response.status_code == 500, response.text
            _wait_for(  # its log line, read from the gateway's output as it comes
                lambda: "Runtime.ExitError" in "".join(gateway.output),
                30,
                "the gateway logging that the worker process exited",
            )
            # The supervisor restarts the process, and the next invocation is answered.
            cluster.workers.wait_ready(2)
            response = await client.get(f"{gateway.url}/orders/{new_order()['item']['order_id']}")
            assert response.status_code == 404, response.text


async def test_kill_9_of_a_gateway_its_clients_reconnect_to_another_and_catch_up(
    nats_server: NatsServer, postgres_dsn: str
) -> None:
    with running_cluster(nats_server.url, postgres_dsn, 2, 2) as cluster:
        a, b = cluster.gateways
        order = new_order()
        order_id = order["item"]["order_id"]
        async with websockets.connect(f"{a.ws_url}?order_id={order_id}") as socket:
            await socket.send(json.dumps({"action": "sync"}))
            a.stop(signal.SIGKILL)
            async with httpx.AsyncClient(timeout=30) as client:
                response = await client.post(b.url + "/", json=order)
            assert response.status_code == 200
            with pytest.raises(websockets.ConnectionClosed):
                await collect(socket, timeout=30)
        async with websockets.connect(f"{b.ws_url}?order_id={order_id}") as again:
            await again.send(json.dumps({"action": "sync"}))
            assert await collect(again, timeout=60) == STAGES
            assert await silent_for(again, 0.5) == []
        # And the cluster goes on serving through the gateway that is left.
        async with httpx.AsyncClient(timeout=30) as client:
            assert await follow_on_a_post_to_b(b, b, client) == STAGES


def test_pizzabus_cluster_runs_everything_and_ctrl_c_stops_it() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "pizzabus", "cluster", "--port", "0", "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
    )
    lines: list[str] = []
    url = None
    tables = None
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("gateway"):
                url = line.split()[1].rstrip("/")
            if line.startswith("tables"):
                tables = line.split()[1]
            if "Press Ctrl+C" in line:
                break
        assert url is not None, "".join(lines)
        # With no --tables, a throwaway PostgreSQL holds the tables.
        assert tables is not None, "".join(lines)
        assert tables.startswith("postgresql://"), "".join(lines)
        psycopg.connect(tables, connect_timeout=10).close()
        http_url = url
        ws_url = url.replace("http://", "ws://") + "/ws"

        async def one_order() -> list[str]:
            order = new_order()
            order_id = order["item"]["order_id"]
            async with websockets.connect(f"{ws_url}?order_id={order_id}") as socket:
                await socket.send(json.dumps({"action": "sync"}))
                async with httpx.AsyncClient(timeout=30) as client:
                    assert (await client.post(http_url + "/", json=order)).status_code == 200
                return await collect(socket, timeout=60)

        assert asyncio.run(one_order()) == STAGES
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        # Ctrl+C stopped the throwaway PostgreSQL too.
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(tables, connect_timeout=5).close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


async def test_nats_lost_while_serving_gives_a_retryable_503_then_recovers_by_itself(
    nats_server: NatsServer, postgres_dsn: str
) -> None:
    with running_cluster(nats_server.url, postgres_dsn, 1, 1) as cluster:
        (gateway,) = cluster.gateways
        async with httpx.AsyncClient(timeout=30) as client:
            assert await follow_on_a_post_to_b(gateway, gateway, client) == STAGES
            nats_server.kill()
            started = time.monotonic()
            response = await client.post(gateway.url + "/", json=new_order())
            assert response.status_code == 503, response.text
            assert "retry" in response.json()["message"]
            assert time.monotonic() - started < 5  # answered, not hung
            nats_server.start_again()
            deadline = time.monotonic() + 30
            while True:  # the gateway and the workers reconnect by themselves
                response = await client.post(gateway.url + "/", json=new_order())
                if response.status_code == 200 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert response.status_code == 200, response.text
            assert await follow_on_a_post_to_b(gateway, gateway, client) == STAGES
