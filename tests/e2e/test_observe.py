"""What a user watching the system sees: invocation logs, metrics, journey traces.

GIVEN a real ``pizzabus serve`` on loopback, WHEN orders go through it, THEN its output has
Lambda's REPORT lines, ``/metrics`` counts them, and ``pizzabus trace`` shows each journey.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from tests.e2e.orders import collect, new_order
from tests.e2e.server import REPO, Server, server_env, start_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    # Every journey traced, however quickly the tests place orders (the default reservoir is
    # 10 new journeys a second, and each order's socket adds a catch-up journey of its own).
    running = start_server(
        ("--memory", "--no-reload"), env=server_env(PIZZABUS_TRACES_PER_SECOND="100000")
    )
    yield running
    running.stop()


async def _order(server: Server) -> tuple[str, httpx.Response]:
    order = new_order()
    order_id = order["item"]["order_id"]
    async with (
        websockets.connect(f"{server.ws_url}?order_id={order_id}") as socket,
        httpx.AsyncClient() as client,
    ):
        response = await client.post(server.url + "/", json=order)
        assert response.status_code == 200, response.text
        assert await collect(socket) == ["make_pizza", "cook_pizza", "deliver_pizza", "delivered"]
    return order_id, response


def _wait_for_output(server: Server, pattern: str, count: int, timeout: float = 10.0) -> list[str]:
    """Lines of the server's output matching ``pattern``, once there are ``count``."""
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in list(server.output) if re.search(pattern, line)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _trace_cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pizzabus", "trace", *args, "--url", server.url],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def test_one_order_writes_start_end_and_report_for_each_of_its_invocations(
    server: Server,
) -> None:
    asyncio.run(_order(server))
    # Seven after the POST (make, cook, deliver, receive_events ×4), and $connect.
    for function, times in (
        ("make_pizza", 1),
        ("cook_pizza", 1),
        ("deliver_pizza", 1),
        ("receive_events", 4),
        ("websocket_connect", 1),
    ):
        reports = _wait_for_output(server, rf"^\[{function} [0-9a-f]{{8}}\] REPORT ", times)
        assert len(reports) >= times, "".join(server.output[-40:])
        fields = reports[0].rstrip("\n").split("\t")
        assert fields[0].split(" REPORT ")[1].startswith("RequestId: ")
        assert re.fullmatch(r"Duration: \d+\.\d\d ms", fields[1])
        assert re.fullmatch(r"Billed Duration: \d+ ms", fields[2])
        assert fields[3] == "Memory Size: 128 MB"
        assert re.fullmatch(r"Max Memory Used: \d+ MB", fields[4])
        request_id = fields[0].split("RequestId: ")[1]
        prefix = reports[0].split(" REPORT ")[0]
        assert _wait_for_output(server, rf"^{re.escape(prefix)} START RequestId: {request_id}", 1)
        assert _wait_for_output(server, rf"^{re.escape(prefix)} END RequestId: {request_id}$", 1)
    cold = _wait_for_output(server, r"REPORT .*\tInit Duration: \d+\.\d\d ms", 1)
    assert cold, "a first invocation is a cold start"


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_after_five_orders_metrics_count_the_invocations_and_the_matches(server: Server) -> None:
    async def five() -> None:
        await asyncio.gather(*(_order(server) for _ in range(5)))

    asyncio.run(five())
    response = httpx.get(server.url + "/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert _metric(text, "pizzabus_lambda_invocations_total", function="make_pizza") >= 5
    assert (
        _metric(
            text, "pizzabus_events_matched_total", bus="lab_event_bus", rule="lab_make_pizza_rule"
        )
        >= 5
    )
    assert (
        _metric(
            text,
            "pizzabus_events_invocations_total",
            rule="lab_cook_pizza_rule",
            target="cook_pizza",
        )
        >= 5
    )
    assert _metric(text, "pizzabus_apigateway_requests_total", route="POST /", status="200") >= 5
    assert _metric(text, "pizzabus_websocket_messages_total", direction="out") >= 20
    assert _metric(text, "pizzabus_lambda_duration_seconds_count", function="receive_events") >= 20
    for name in (
        "pizzabus_lambda_errors_total",
        "pizzabus_lambda_throttles_total",
        "pizzabus_lambda_concurrent_executions",
        "pizzabus_events_failed_invocations_total",
        "pizzabus_events_dead_letter_invocations_total",
        "pizzabus_events_throttled_total",
        "pizzabus_websocket_connections",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name


def test_an_order_journey_has_its_events_invocations_and_pushes(server: Server) -> None:
    order_id, response = asyncio.run(_order(server))
    header = response.headers["x-amzn-trace-id"]
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1", header)
    _wait_for_output(server, r"receive_events .* REPORT", 1)
    done = _trace_cli(server, order_id, "--json")
    assert done.returncode == 0, done.stderr
    journey = json.loads(done.stdout)
    kinds = [s["kind"] for s in journey["spans"]]
    assert kinds.count("request") == 1
    assert kinds.count("event") >= 4
    assert kinds.count("match") >= 7
    invoked = sorted(s["name"] for s in journey["spans"] if s["kind"] == "invocation")
    # The order's traces are merged: its socket's catch-up ("connected") event adds receive_events
    # invocations of its own, beside the four of the stages.
    stages = [name for name in invoked if name != "receive_events"]
    assert stages == ["cook_pizza", "deliver_pizza", "make_pizza"], invoked
    assert invoked.count("receive_events") >= 4, invoked
    assert kinds.count("push") >= 4
    assert header.split(";")[0] == f"Root={journey['trace_id']}"
    # Every span of the POST's own trace hangs off another of it, up to the request.
    posted = httpx.get(
        f"{server.url}/_pizzabus/traces/{journey['trace_id']}",
        headers=server.admin_headers,
        timeout=5,
    ).json()["spans"]
    ids = {s["span_id"] for s in posted}
    assert all(s["parent"] in ids for s in posted if s["kind"] != "request")
    by_id = {s["span_id"]: s for s in journey["spans"]}
    for push in (s for s in journey["spans"] if s["kind"] == "push"):
        assert by_id[push["parent"]]["name"] == "receive_events"
        assert push["outcome"] == "ok"
        assert push["bytes"] > 0


def test_the_trace_command_draws_the_journey_as_a_tree(server: Server) -> None:
    order_id, response = asyncio.run(_order(server))
    _wait_for_output(server, r"receive_events .* REPORT", 1)
    trace_id = response.headers["x-amzn-trace-id"].split(";")[0].removeprefix("Root=")
    for reference in (order_id, trace_id):
        done = _trace_cli(server, reference)
        assert done.returncode == 0, done.stderr
        for word in ("request", "lab_make_pizza_rule", "cook_pizza", "receive_events", "push"):
            assert word in done.stdout, done.stdout


def test_the_trace_api_finds_traces_by_detail_and_refuses_unknown_ones(server: Server) -> None:
    order_id, _ = asyncio.run(_order(server))
    admin = server.admin_headers
    found = httpx.get(
        server.url + "/_pizzabus/traces", params={"q": order_id}, headers=admin, timeout=5
    ).json()
    # The order's journey starts at POST /; its socket's catch-up event has a journey of its own.
    [posted] = [
        trace
        for trace in found["traces"]
        if any(s["kind"] == "request" and s["name"] == "POST /" for s in trace["spans"])
    ]
    one = httpx.get(f"{server.url}/_pizzabus/traces/{posted['trace_id']}", headers=admin, timeout=5)
    assert {"kind", "name", "start", "duration_ms", "outcome", "parent"} <= set(
        one.json()["spans"][0]
    )
    missing = httpx.get(
        f"{server.url}/_pizzabus/traces/1-00000000-{'0' * 24}", headers=admin, timeout=5
    )
    assert missing.status_code == 404
    assert "No trace" in missing.json()["message"]
    unknown = _trace_cli(server, str(uuid.uuid4()))
    assert unknown.returncode == 1
    assert "No trace has an event" in unknown.stderr
    refused = httpx.get(server.url + "/_pizzabus/traces", timeout=5)
    assert refused.status_code == 401  # the admin API's token guards the journeys


def test_a_caller_trace_id_is_kept(server: Server) -> None:
    root = f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
    order: dict[str, Any] = new_order()
    response = httpx.post(
        server.url + "/",
        json=order,
        headers={"X-Amzn-Trace-Id": f"Root={root};Parent=53995c3f42cd8ad8;Sampled=1"},
        timeout=5,
    )
    assert response.headers["x-amzn-trace-id"].startswith(f"Root={root};")


def test_quiet_serves_without_invocation_lines_and_still_counts() -> None:
    quiet = start_server(("--memory", "--no-reload", "--quiet"))
    try:
        asyncio.run(_order(quiet))
        text = httpx.get(quiet.url + "/metrics", timeout=5).text
        assert _metric(text, "pizzabus_lambda_invocations_total", function="make_pizza") == 1
        quiet.stop()
        assert not [line for line in quiet.output if " REPORT RequestId: " in line]
    finally:
        quiet.stop()
