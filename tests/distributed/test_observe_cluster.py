"""What a user watching a cluster sees: the workers' part of every journey, at any gateway.

GIVEN a gateway and two worker processes (``--reload``) on a private nats-server and a fresh
PostgreSQL database, on a copy of the lab's handlers, WHEN orders go through, THEN the
workers' invocation logs are labelled with their process, the gateway serves the whole journey
(``/_pizzabus/traces``, ``pizzabus trace``) and the cluster's counts (the console), lists every
process's ``/metrics`` for Prometheus, and a saved handler is picked up by every worker
process (a syntax error failing with ``Runtime.UserCodeSyntaxError`` until the next good save).

The workers relay asynchronously, so each check polls for what it expects, with a generous
deadline as a failure guard only.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import websockets

from pizzabus.devservers.nats import NatsServer
from pizzabus.distributed.telemetry import NODE_EXPIRY
from pizzabus.pizza.system import FUNCTIONS_DIR
from tests.distributed.cluster import Cluster, running_cluster
from tests.e2e.orders import STAGES, new_order
from tests.e2e.server import REPO, Server, server_env
from tests.e2e.test_reload import EDITED

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

T = TypeVar("T")
STAGE_FUNCTIONS = {"make_pizza", "cook_pizza", "deliver_pizza"}


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cluster-code") / "functions"
    shutil.copytree(FUNCTIONS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


@pytest.fixture(scope="module")
def cluster(
    module_nats_server: NatsServer, module_postgres_dsn: str, code: Path
) -> Iterator[Cluster]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIZZABUS_TEST_CODE_DIR", str(code))
        patch.setenv("PIZZABUS_TRACES_PER_SECOND", "100000")  # every journey traced
        extra = ("--system", "tests.e2e.reload_system:SYSTEM", "--reload", "--log-level", "info")
        with running_cluster(module_nats_server.url, module_postgres_dsn, 1, 2, *extra) as running:
            yield running


def eventually(read: Callable[[], T], done: Callable[[T], bool], timeout: float = 30.0) -> T:
    """``read()`` once ``done`` holds for it; the last read after ``timeout`` (a guard)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


async def _order(gateway: Server) -> tuple[str, list[dict[str, Any]]]:
    order = new_order()
    order_id = order["item"]["order_id"]
    items: list[dict[str, Any]] = []
    async with (
        websockets.connect(f"{gateway.ws_url}?order_id={order_id}") as socket,
        httpx.AsyncClient(timeout=30) as client,
    ):
        response = await client.post(gateway.url + "/", json=order)
        assert response.status_code == 200, response.text
        async with asyncio.timeout(90):
            async for frame in socket:
                item = json.loads(frame).get("item")
                if item is None:
                    continue
                items.append(item)
                if item["eventtype"] == "delivered":
                    break
    return order_id, items


def _get(gateway: Server, path: str) -> Any:
    response = httpx.get(gateway.url + path, headers=gateway.admin_headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_invocation_logs_are_labelled_with_their_worker_process(cluster: Cluster) -> None:
    assert cluster.workers is not None
    gateway = cluster.gateways[0]
    _, items = asyncio.run(_order(gateway))
    assert [i["eventtype"] for i in items] == STAGES
    report = re.compile(r"^\[worker [01]\] \[(\w+) [0-9a-f]{8}\] REPORT RequestId: ")
    output = cluster.workers.output
    reported = eventually(
        lambda: {m.group(1) for line in list(output) if (m := report.match(line))},
        lambda names: names >= STAGE_FUNCTIONS,
    )
    assert reported >= STAGE_FUNCTIONS, "".join(output[-40:])


def test_the_workers_part_of_a_journey_is_served_by_the_gateway(cluster: Cluster) -> None:
    gateway = cluster.gateways[0]
    order_id, _ = asyncio.run(_order(gateway))

    def spans() -> list[dict[str, Any]]:
        found = _get(gateway, f"/_pizzabus/traces?q={order_id}&limit=100")["traces"]
        return [span for trace in found for span in trace["spans"]]

    def complete(found: list[dict[str, Any]]) -> bool:
        invoked = {s["name"] for s in found if s["kind"] == "invocation"}
        pushes = sum(1 for s in found if s["kind"] == "push")
        return invoked >= STAGE_FUNCTIONS and pushes >= len(STAGES)

    found = eventually(spans, complete)
    assert complete(found), json.dumps(found, indent=1)[-3000:]
    kinds = {s["kind"] for s in found}
    assert {"request", "event", "match", "invocation", "push"} <= kinds
    # The tree holds together across processes: each invocation hangs off a rule's match.
    by_id = {s["span_id"]: s for s in found}
    for span in found:
        if span["kind"] == "invocation" and span["name"] in STAGE_FUNCTIONS:
            assert by_id[span["parent"]]["kind"] == "match"

    # And `pizzabus trace` against the gateway draws the same journey.
    done = subprocess.run(
        [sys.executable, "-m", "pizzabus", "trace", order_id, "--json", "--url", gateway.url],
        capture_output=True,
        text=True,
        env=server_env(),
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    journey = json.loads(done.stdout)
    assert {s["name"] for s in journey["spans"] if s["kind"] == "invocation"} >= STAGE_FUNCTIONS


def test_the_console_counts_what_the_workers_did(cluster: Cluster) -> None:
    gateway = cluster.gateways[0]
    asyncio.run(_order(gateway))

    def counted(state: dict[str, Any]) -> bool:
        functions = state["functions"]
        return all(functions.get(f, {}).get("invocations", 0) >= 1 for f in STAGE_FUNCTIONS)

    state = eventually(lambda: _get(gateway, "/_pizzabus/console/state"), counted)
    assert counted(state), state["functions"]
    assert sum(row["count"] for row in state["counters"]["matched"]) >= 3
    # What the console's page reads, in the shapes it reads them.
    assert isinstance(state["stats"]["deliveries"]["in_flight"], int)
    assert isinstance(state["stats"]["connections"], int)
    assert isinstance(state["stats"]["dead_letters"], int)
    assert state["faults"]["functions"] == {}
    assert state["tracing"] is True
    assert state["traces"]
    kinds = sorted(node["kind"] for node in state["nodes"])
    assert kinds == ["gateway", "worker", "worker"]
    # The console's list of processes: each a live process of this cluster, with its /metrics.
    for node in state["nodes"]:
        assert isinstance(node["pid"], int), node
        assert node["pid"] > 0, node
        assert node["metrics"], node
        assert 0 <= node["heartbeat_age_s"] < NODE_EXPIRY, node
    pids = {node["pid"] for node in state["nodes"]}
    assert len(pids) == 3


def test_every_process_metrics_are_listed_for_prometheus(cluster: Cluster) -> None:
    gateway = cluster.gateways[0]
    asyncio.run(_order(gateway))
    groups = eventually(
        lambda: _get(gateway, "/_pizzabus/metrics/targets"), lambda found: len(found) == 3
    )
    jobs = sorted(group["labels"]["job"] for group in groups)
    assert jobs == ["pizzabus-gateway", "pizzabus-worker", "pizzabus-worker"]
    invocations = 0.0
    for group in groups:
        (target,) = group["targets"]
        text = httpx.get(f"http://{target}/metrics", timeout=10).text
        assert "pizzabus_lambda_invocations_total" in text or group["labels"]["job"].endswith(
            "gateway"
        )
        invocations += sum(
            float(m.group(1))
            for m in re.finditer(
                r'^pizzabus_lambda_invocations_total\{function="make_pizza"\} (\S+)$',
                text,
                re.MULTILINE,
            )
        )
    assert invocations >= 1  # each worker counts its own; Prometheus sums them


def _save_and_wait_for_every_worker(cluster: Cluster, path: Path, text: str) -> None:
    """Save ``text`` until both worker processes said they reloaded it since."""
    assert cluster.workers is not None
    start = len(cluster.workers.output)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        path.write_text(text)
        resave = time.monotonic() + 3.0
        while time.monotonic() < min(resave, deadline):
            seen = {
                line.split("]")[0]
                for line in list(cluster.workers.output)[start:]
                if "reloaded make_pizza" in line
            }
            if seen == {"[worker 0", "[worker 1"}:
                return
            time.sleep(0.05)
        text += "\n"
    raise AssertionError("".join(cluster.workers.output[-30:]))


def test_a_saved_handler_is_picked_up_by_every_worker_process(cluster: Cluster, code: Path) -> None:
    _save_and_wait_for_every_worker(
        cluster, code / "make_pizza.py", EDITED.format(edition="second")
    )
    for _ in range(2):  # whichever process runs it, the new code runs
        _, items = asyncio.run(_order(cluster.gateways[0]))
        assert items[1]["eventtype"] == "cook_pizza"
        assert items[1]["edition"] == "second"


def test_a_syntax_error_fails_until_the_next_good_save(cluster: Cluster, code: Path) -> None:
    assert cluster.workers is not None
    output = cluster.workers.output
    handler = code / "make_pizza.py"
    _save_and_wait_for_every_worker(cluster, handler, "def lambda_handler(event, context:\n")

    async def order_across_the_fix() -> list[dict[str, Any]]:
        follow = asyncio.create_task(_order(cluster.gateways[0]))
        deadline = time.monotonic() + 60
        while not any("Runtime.UserCodeSyntaxError" in line for line in list(output)):
            assert time.monotonic() < deadline, "".join(output[-30:])
            await asyncio.sleep(0.05)
        await asyncio.to_thread(
            _save_and_wait_for_every_worker, cluster, handler, EDITED.format(edition="fixed")
        )
        return (await follow)[1]

    items = asyncio.run(order_across_the_fix())
    assert [i["eventtype"] for i in items] == STAGES
    assert items[1]["edition"] == "fixed"
    failed = [line for line in output if "Runtime.UserCodeSyntaxError" in line]
    assert any(re.match(r"^\[worker [01]\] ", line) for line in failed)
