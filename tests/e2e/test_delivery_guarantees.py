"""Retries, dead letters, redrive, replay and back-pressure, against a real server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from click.testing import CliRunner

from pizzabus.cli.main import cli
from tests.e2e.orders import STAGES, collect, new_order
from tests.e2e.server import Server, start_server

pytestmark = pytest.mark.e2e


async def _post(client: httpx.AsyncClient, server: Server, pizza: str = "margherita") -> str:
    order = new_order(pizza)
    response = await client.post(server.url + "/", json=order)
    assert response.status_code == 200, response.text
    assert response.json()["FailedEntryCount"] == 0
    return str(order["item"]["order_id"])


async def _stages(client: httpx.AsyncClient, server: Server, order_id: str) -> list[str]:
    response = await client.get(f"{server.url}/orders/{order_id}")
    if response.status_code == 404:
        return []
    return [e["item"]["eventtype"] for e in response.json()["events"]]


async def _wait_delivered(
    client: httpx.AsyncClient, server: Server, order_ids: list[str], timeout: float = 30
) -> dict[str, list[str]]:
    deadline = time.monotonic() + timeout
    timelines: dict[str, list[str]] = {}
    while time.monotonic() < deadline:
        timelines = {o: await _stages(client, server, o) for o in order_ids}
        if all(t == STAGES for t in timelines.values()):
            break
        await asyncio.sleep(0.2)
    return timelines


def _admin(server: Server, method: str, path: str, body: object = None) -> object:
    response = httpx.request(
        method,
        f"{server.url}/_pizzabus{path}",
        json=body,
        headers=server.admin_headers,
        timeout=10,
    )
    assert response.status_code < 400, response.text
    return response.json()


def _faulty_cook(tmp_path: Path, system: str) -> Server:
    plan = tmp_path / "faults.json"
    plan.write_text(json.dumps({"functions": {"cook_pizza": {"error_rate": 1.0}}}))
    return start_server(("--memory", "--system", system, "--faults", str(plan)))


@pytest.fixture
def faulty_cook(tmp_path: Path) -> Iterator[Server]:
    """The lab as it is (AWS's retry policy), with cook_pizza failing until told otherwise."""
    server = _faulty_cook(tmp_path, "pizzabus.pizza.system:SYSTEM")
    yield server
    server.stop()


async def _until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Wait until ``check()`` holds; the timeout is a failure guard, never an expectation."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout} s for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
def quick_dlq(tmp_path: Path) -> Iterator[Server]:
    """The same, but deliveries give up after two retries."""
    server = _faulty_cook(tmp_path, "tests.e2e.test_systems:QUICK_DLQ")
    yield server
    server.stop()


def _replay_state(server: Server, name: str) -> object:
    return _admin(server, "GET", f"/replays/{name}")["State"]  # type: ignore[index]


def _failed_attempts(server: Server) -> int:
    """Failed delivery attempts so far. A cluster's gateway reads them from JetStream: each
    delivery that failed and was delivered again counts once (so a lower bound)."""
    stats: dict[str, Any] = server.stats()
    if "deliveries" in stats:
        return int(stats["deliveries"]["failed_attempts"])
    return sum(int(c["redelivered"]) for c in stats["consumers"].values())


def _in_flight(server: Server) -> int:
    """Deliveries still to run: in flight (embedded), or waiting in JetStream (a cluster)."""
    stats: dict[str, Any] = server.stats()
    if "deliveries" in stats:
        return int(stats["deliveries"]["in_flight"])
    return int(stats["backlog"])


async def test_every_order_completes_after_cook_pizza_failed_for_each_of_them(
    faulty_cook: Server,
) -> None:
    async with httpx.AsyncClient() as client:
        orders = [await _post(client, faulty_cook) for _ in range(20)]
        # Every order's cooking has failed at least once (the fault is certain, not drawn)...
        await _until(lambda: _failed_attempts(faulty_cook) >= 20, "20 failed cook_pizza attempts")
        _admin(faulty_cook, "PUT", "/faults", {"functions": {}})
        # ...and the retries then complete every one of them.
        timelines = await _wait_delivered(client, faulty_cook, orders, timeout=120)
    assert all(t == STAGES for t in timelines.values()), timelines
    assert faulty_cook.stats()["dead_letters"] == 0


async def _follow(client: httpx.AsyncClient, server: Server) -> tuple[str, list[str]]:
    """Place an order as the web client does; its id and the stages its socket received."""
    order = new_order()
    order_id = str(order["item"]["order_id"])
    async with websockets.connect(f"{server.ws_url}?order_id={order_id}") as socket:
        await socket.send(json.dumps({"action": "sync"}))
        response = await client.post(server.url + "/", json=order)
        assert response.status_code == 200, response.text
        return order_id, await collect(socket)


async def test_with_no_fault_each_target_is_invoked_once_per_event(audited: Server) -> None:
    async with httpx.AsyncClient() as client:
        followed = await asyncio.gather(*(_follow(client, audited) for _ in range(5)))
        assert [stages for _, stages in followed] == [STAGES] * 5  # each stage once, in order
        await _wait_idle(audited, timeout=60)
        records = (await client.get(f"{audited.url}/audit")).json()
    for order_id, _ in followed:
        mine = [r for r in records if r["order_id"] == order_id and r["replay"] == ""]
        stages = [r for r in mine if r["eventtype"] != "connected"]
        assert sorted(r["eventtype"] for r in stages) == sorted(STAGES)  # one event per stage
        assert [r["invocations"] for r in stages] == [1, 1, 1, 1]  # each delivered once
        # and the one socket's catch-up event ($connect puts it; it retries, by design, while
        # the socket is still opening, so it is delivered at least once)
        [connected] = [r for r in mine if r["eventtype"] == "connected"]
        assert connected["invocations"] >= 1


async def test_when_cook_pizza_always_fails_each_order_is_dead_lettered_then_redriven(
    quick_dlq: Server,
) -> None:
    faulty_cook = quick_dlq
    _admin(faulty_cook, "PUT", "/faults", {"functions": {"cook_pizza": {"error_rate": 1.0}}})
    async with httpx.AsyncClient() as client:
        orders = [await _post(client, faulty_cook) for _ in range(5)]
        deadline = time.monotonic() + 20
        letters: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            letters = _admin(faulty_cook, "GET", "/dlq")["DeadLetters"]  # type: ignore[index]
            if len(letters) >= 5:
                break
            await asyncio.sleep(0.2)
        assert len(letters) == 5
        assert {letter["target"] for letter in letters} == {"cook_pizza"}
        assert all(letter["error_type"] == "Pizzabus.InjectedFault" for letter in letters)
        assert all(letter["attempts"] == 3 for letter in letters)  # 1 + 2 retries
        for order_id in orders:  # announced for cooking, never cooked
            assert await _stages(client, faulty_cook, order_id) == ["make_pizza", "cook_pizza"]

        runner = CliRunner()
        cleared = runner.invoke(cli, ["faults", "clear", "--url", faulty_cook.url])
        assert cleared.exit_code == 0, cleared.output
        listed = runner.invoke(cli, ["dlq", "list", "--url", faulty_cook.url])
        assert "cook_pizza" in listed.output
        redriven = runner.invoke(cli, ["dlq", "redrive", "--all", "--url", faulty_cook.url])
        assert redriven.exit_code == 0, redriven.output
        assert "Redriven: 5" in redriven.output

        timelines = await _wait_delivered(client, faulty_cook, orders)
    assert all(t == STAGES for t in timelines.values()), timelines
    assert _admin(faulty_cook, "GET", "/dlq") == {"DeadLetters": []}


@pytest.fixture(scope="module")
def audited() -> Iterator[Server]:
    server = start_server(("--memory", "--system", "tests.e2e.test_systems:AUDITED"))
    yield server
    server.stop()


async def test_a_replay_re_sends_exactly_the_archived_events_of_its_window_once_marked(
    audited: Server,
) -> None:
    async with httpx.AsyncClient() as client:
        before = [await _post(client, audited)]
        await _wait_delivered(client, audited, before)
        await asyncio.sleep(0.05)
        start = time.time()
        inside = [await _post(client, audited) for _ in range(2)]
        await _wait_delivered(client, audited, inside)
        end = time.time()
        await asyncio.sleep(0.05)
        after = [await _post(client, audited)]
        await _wait_delivered(client, audited, after)

        started = _admin(
            audited,
            "POST",
            "/replays",
            {"name": "window", "from": start, "to": end, "rules": ["audit_rule"]},
        )
        assert started["ReplayName"] == "window"  # type: ignore[index]
        await _until(lambda: _replay_state(audited, "window") == "COMPLETED", "replay 'window'")
        state: dict[str, object] = _admin(audited, "GET", "/replays/window")  # type: ignore[assignment]
        assert state["EventsReplayed"] == state["EventsTotal"] == 8  # 2 orders × 4 stages

        await _wait_idle(audited, timeout=60)  # the replayed deliveries are done
        records = (await client.get(f"{audited.url}/audit")).json()
    replayed = [r for r in records if r["replay"] == "window"]
    originals = {r["id"] for r in records if r["replay"] == ""}
    assert len(replayed) == 8
    assert all(r["invocations"] == 1 for r in records)  # originals and replays, each once
    assert {r["order_id"] for r in replayed} == set(inside)
    assert {r["id"] for r in replayed} <= originals  # the same events, marked
    assert sorted(r["eventtype"] for r in replayed) == sorted(STAGES * 2)

    # Replayed events were not archived again: the same window replays the same 8.
    again = _admin(
        audited,
        "POST",
        "/replays",
        {"name": "again", "from": start, "to": end, "rules": ["audit_rule"]},
    )
    await _until(lambda: _replay_state(audited, "again") == "COMPLETED", "replay 'again'")
    again = _admin(audited, "GET", "/replays/again")
    assert again["EventsTotal"] == 8  # type: ignore[index]


def test_an_invalid_replay_is_refused_with_a_reason(audited: Server) -> None:
    response = httpx.post(
        f"{audited.url}/_pizzabus/replays",
        json={"from": "yesterday-ish", "to": "now"},
        headers=audited.admin_headers,
    )
    assert response.status_code == 400
    assert "ISO 8601" in response.json()["message"]
    response = httpx.post(
        f"{audited.url}/_pizzabus/replays",
        json={"from": 0, "rules": ["no_such_rule"]},
        headers=audited.admin_headers,
    )
    assert response.status_code == 404
    assert "no_such_rule" in response.json()["message"]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


#: The memory the overloaded server may use (it holds at most --max-in-flight deliveries).
MEMORY_BOUND_MIB = 400
ROUNDS, BURST = 3, 400


async def _wait_idle(server: Server, timeout: float) -> None:
    """Wait until the bus has nothing in flight."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _in_flight(server) == 0:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"deliveries still in flight after {timeout} s: {server.stats()}")


#: The bound past which PutEvents is throttled: deliveries in flight (embedded), or events and
#: deliveries waiting in JetStream (a cluster).
OVERLOAD_BOUND = 200


@pytest.fixture
def overloaded() -> Iterator[Server]:
    """A server that throttles past OVERLOAD_BOUND."""
    server = start_server(("--memory", "--max-in-flight", str(OVERLOAD_BOUND)))
    yield server
    server.stop()


@pytest.mark.timeout(300)  # heavy by design; a loaded CI machine must not fail it on time
async def test_offered_load_beyond_capacity_is_throttled_and_nothing_accepted_is_lost(
    overloaded: Server,
) -> None:
    server = overloaded
    accepted: list[str] = []
    throttled = unanswered = 0
    peak_rss = 0
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def offer() -> None:
            nonlocal throttled, unanswered
            order = new_order()
            try:
                response = await client.post(server.url + "/", json=order)
            except httpx.TransportError:
                unanswered += 1  # never acknowledged, so not counted as accepted
                return
            assert response.status_code == 200
            entry = response.json()["Entries"][0]
            if "EventId" in entry:
                accepted.append(order["item"]["order_id"])
            else:
                assert entry["ErrorCode"] == "ThrottlingException"
                throttled += 1

        for _ in range(ROUNDS):
            await asyncio.gather(*(offer() for _ in range(BURST)))
            peak_rss = max(peak_rss, _rss_kib(server.process.pid))
        await _wait_idle(server, timeout=120)
        timelines = {o: await _stages(client, server, o) for o in accepted}
    lost = [o for o, t in timelines.items() if "delivered" not in t]
    print(
        f"offered {ROUNDS * BURST}, accepted {len(accepted)}, throttled {throttled}, "
        f"unanswered {unanswered}, lost {len(lost)}, peak RSS {peak_rss // 1024} MiB"
    )
    assert throttled > 0
    assert accepted
    assert lost == []
    assert peak_rss < MEMORY_BOUND_MIB * 1024


def test_the_replay_command_follows_a_replay_to_its_end(audited: Server) -> None:
    runner = CliRunner()
    started = time.time() - 3600
    done = runner.invoke(
        cli,
        ["replay", "--from", str(started), "--rule", "audit_rule", "--name", "cli-replay",
         "--url", audited.url],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "Replay cli-replay: COMPLETED" in done.output
    listed = runner.invoke(cli, ["replay", "list", "--url", audited.url])
    assert "cli-replay" in listed.output
    refused = runner.invoke(cli, ["replay", "--url", audited.url])
    assert refused.exit_code == 2
    assert "--from" in refused.output
