"""Replays on the distributed runtime, on a private nats-server: the events stream is the
archive, a replay re-delivers exactly its window's events, and any gateway describes or cancels
it (two gateways here are two :class:`ClusterReplays` on their own connections)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from pizzabus.bus.replay import Replay, ReplayRequest, ReplayState
from pizzabus.clock import ManualClock, SystemClock
from pizzabus.contracts.identity import RuntimeIdentity
from pizzabus.devservers.nats import NatsServer
from pizzabus.distributed.broker import Broker, connect, headers_of
from pizzabus.distributed.publisher import NatsPublisher
from pizzabus.distributed.replay import BATCH, STALE_AFTER, ClusterReplays
from pizzabus.distributed.subjects import EVENTS_MIN_AGE, events_max_age
from pizzabus.errors import NotFoundError, ValidationError
from pizzabus.pizza.system import SYSTEM
from pizzabus.system import Archive

BUS = "lab_event_bus"
MAKE_RULE = "lab_make_pizza_rule"


@pytest.fixture
async def brokers(nats_server: NatsServer) -> AsyncIterator[tuple[Broker, Broker]]:
    """Two connections to one nats-server, as two gateways have."""
    a = await connect(nats_server.url, name="gateway-a")
    b = await connect(nats_server.url, name="gateway-b")
    await a.ensure(SYSTEM)
    await b.ensure(SYSTEM)
    yield a, b
    await a.close()
    await b.close()


async def _put_orders(broker: Broker, count: int) -> list[str]:
    """Accept ``count`` orders (nothing routes them: no worker runs); their event ids."""
    publisher = NatsPublisher(broker, SYSTEM.buses, identity=RuntimeIdentity(), clock=SystemClock())
    ids = []
    for start in range(0, count, 10):
        entries = [
            {
                "Source": "lab_http_api",
                "DetailType": "eventtype",
                "Detail": json.dumps({"item": {"order_id": f"o{n}", "eventtype": "make_pizza"}}),
                "EventBusName": BUS,
            }
            for n in range(start, min(count, start + 10))
        ]
        answer = await publisher.put_events_async(entries)
        assert answer["FailedEntryCount"] == 0
        ids += [entry["EventId"] for entry in answer["Entries"]]
    return ids


async def _settled(replays: ClusterReplays, name: str) -> ReplayState:
    async with asyncio.timeout(60):  # a failure guard only
        while True:
            state = (await replays.get(name)).state
            if state not in (ReplayState.STARTING, ReplayState.RUNNING, ReplayState.CANCELLING):
                return state
            await asyncio.sleep(0.02)


async def _replayed_deliveries(broker: Broker, function: str) -> list[tuple[str, str, str]]:
    """(event id, rule, replay name) of every delivery waiting for ``function``."""
    names = broker.names
    consumer = names.delivery_consumer(function)
    info = await broker.js.consumer_info(names.deliveries_stream, consumer)
    waiting = info.num_pending or 0
    subscription = await broker.js.pull_subscribe_bind(consumer, names.deliveries_stream)
    found = []
    while len(found) < waiting:
        for message in await subscription.fetch(waiting - len(found), timeout=5):
            headers = headers_of(message)
            event = json.loads(message.data)
            assert event["replay-name"] == headers["Pizzabus-Replay"]
            found.append((event["id"], headers["Pizzabus-Rule"], headers["Pizzabus-Replay"]))
    return found


async def test_a_replay_redelivers_exactly_the_events_of_its_window_to_its_rules(
    brokers: tuple[Broker, Broker],
) -> None:
    a, _ = brokers
    await _put_orders(a, 5)  # GIVEN events before the window,
    opened = time.time()
    inside = await _put_orders(a, 7)  # in it,
    closed = time.time()
    await _put_orders(a, 4)  # and after it
    replays = ClusterReplays(a, SYSTEM.buses, SystemClock())

    request = ReplayRequest("window", BUS, opened, closed, (MAKE_RULE,))
    await replays.start(request)  # WHEN the window is replayed to one rule

    assert await _settled(replays, "window") is ReplayState.COMPLETED
    described = (await replays.get("window")).describe()
    assert (described["EventsTotal"], described["EventsReplayed"]) == (7, 7)
    delivered = await _replayed_deliveries(a, "make_pizza")
    assert sorted(delivered) == sorted((i, MAKE_RULE, "window") for i in inside)
    assert await _replayed_deliveries(a, "receive_events") == []  # the other rules: nothing


async def test_a_replay_started_on_one_gateway_is_cancelled_and_described_from_another(
    brokers: tuple[Broker, Broker],
) -> None:
    a, b = brokers
    await _put_orders(a, 3 * BATCH)
    clock = ManualClock(start=time.time() + 60)  # the runner waits on it between batches
    on_a = ClusterReplays(a, SYSTEM.buses, clock)
    on_b = ClusterReplays(b, SYSTEM.buses, SystemClock())
    await on_a.start(ReplayRequest("big", BUS, 0, time.time(), None))
    async with asyncio.timeout(60):  # a failure guard only
        while clock.pending_sleepers == 0:  # the first batch is sent
            await asyncio.sleep(0.01)

    cancelling = await on_b.cancel("big")
    assert cancelling.state is ReplayState.CANCELLING
    await clock.advance(1)

    assert await _settled(on_b, "big") is ReplayState.CANCELLED
    seen_by_a, seen_by_b = await on_a.get("big"), await on_b.get("big")
    assert seen_by_a == seen_by_b
    assert seen_by_b.replayed == BATCH
    assert [r.name for r in await on_b.all_replays()] == ["big"]
    with pytest.raises(ValidationError, match="only a running replay"):
        await on_b.cancel("big")
    await on_a.close()


async def test_a_replay_name_is_taken_cluster_wide_and_an_unknown_one_is_not_found(
    brokers: tuple[Broker, Broker],
) -> None:
    a, b = brokers
    on_a = ClusterReplays(a, SYSTEM.buses, SystemClock())
    on_b = ClusterReplays(b, SYSTEM.buses, SystemClock())
    await on_a.start(ReplayRequest("once", BUS, 0, time.time(), None))
    with pytest.raises(ValidationError, match="already exists"):
        await on_b.start(ReplayRequest("once", BUS, 0, time.time(), None))
    with pytest.raises(NotFoundError, match="does not exist"):
        await on_b.get("never")
    with pytest.raises(NotFoundError, match="no_rule"):
        await on_b.start(ReplayRequest("r", BUS, 0, time.time(), ("no_rule",)))
    assert await _settled(on_b, "once") is ReplayState.COMPLETED  # an empty stream: no events
    assert (await on_b.get("once")).total == 0


@pytest.mark.parametrize(
    ("archives", "kept"),
    [
        pytest.param([None], EVENTS_MIN_AGE, id="no-archive-keeps-what-routing-needs"),
        pytest.param([Archive("a", retention=timedelta(days=7))], 7 * 86_400.0, id="a-week"),
        pytest.param(
            [Archive("a", retention=timedelta(hours=1)), None], EVENTS_MIN_AGE, id="short-archive"
        ),
        pytest.param(
            [Archive("a", retention=timedelta(days=2)), Archive("b", retention=timedelta(days=30))],
            30 * 86_400.0,
            id="the-longest-archive",
        ),
        pytest.param(
            [Archive("a", retention=None), Archive("b", retention=timedelta(days=1))],
            0.0,
            id="an-archive-for-ever-keeps-for-ever",
        ),
    ],
)
def test_the_events_stream_keeps_events_as_long_as_the_longest_archive(
    archives: list[Archive | None], kept: float
) -> None:
    lab = SYSTEM.buses[0]
    buses = [
        dataclasses.replace(lab, name=f"bus{n}", archive=archive)
        for n, archive in enumerate(archives)
    ]
    assert events_max_age(buses) == kept


async def test_a_replay_whose_gateway_died_is_recorded_failed_by_the_next_gateway_to_read_it(
    brokers: tuple[Broker, Broker],
) -> None:
    a, _ = brokers
    clock = ManualClock(start=time.time())
    replays = ClusterReplays(a, SYSTEM.buses, clock)
    # GIVEN a running replay as a gateway killed mid-way leaves it: its last heartbeat, now
    running = Replay("orphan", BUS, 0, clock.now(), None, ReplayState.RUNNING, 64, 64)
    left = {**running.describe(), "Heartbeat": clock.now()}
    assert a.replays is not None
    await a.replays.create("orphan", json.dumps(left).encode())
    assert (
        await replays.get("orphan")
    ).state is ReplayState.RUNNING  # still beating, for all we know

    await clock.advance(STALE_AFTER + 1)  # WHEN no progress comes for longer than a batch takes

    orphan = await replays.get("orphan")
    assert (orphan.state, orphan.replayed) == (ReplayState.FAILED, 64)
    assert "gateway running the replay stopped" in orphan.reason
    assert (await ClusterReplays(a, SYSTEM.buses, SystemClock()).get("orphan")) == orphan
