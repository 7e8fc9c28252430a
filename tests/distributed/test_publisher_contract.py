"""The Publisher seam: one contract, run against the embedded bus and against JetStream.

Both answer PutEvents as EventBridge does: a malformed request is refused whole, each entry
gets an EventId or its own error, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pizzabus.bus.bus import EventRouter
from pizzabus.bus.delivery import Deliverer
from pizzabus.bus.store import MemoryEventStore
from pizzabus.clock import SystemClock
from pizzabus.contracts.identity import RuntimeIdentity
from pizzabus.contracts.invoker import Invocations
from pizzabus.contracts.publisher import Publisher
from pizzabus.devservers.nats import NatsServer
from pizzabus.distributed.broker import connect
from pizzabus.distributed.publisher import NatsPublisher
from pizzabus.errors import ValidationError
from pizzabus.system import EventBus, Function, Rule, SystemDefinition, Target

BUS = EventBus("orders", rules=(Rule("all", {"source": ["shop"]}, (Target("cook"),)),))
DEFINITION = SystemDefinition(
    name="contract",
    buses=(BUS,),
    functions=(Function(name="cook", code_dir=__import__("pathlib").Path("."), handler="x.y"),),
)
ENTRY = {"Source": "shop", "DetailType": "order", "Detail": "{}", "EventBusName": "orders"}


async def _nothing(name: str, payload: bytes) -> Any:
    return None


@pytest.fixture(params=["embedded", "jetstream"])
async def publisher(
    request: pytest.FixtureRequest, nats_server: NatsServer
) -> AsyncIterator[Publisher]:
    if request.param == "embedded":
        store = MemoryEventStore()
        deliverer = Deliverer(Invocations(_nothing), clock=SystemClock(), store=store)
        router = EventRouter(
            (BUS,),
            identity=RuntimeIdentity(),
            clock=SystemClock(),
            store=store,
            deliverer=deliverer,
        )
        router.bind(asyncio.get_running_loop())
        deliverer.bind(asyncio.get_running_loop())
        yield router
        await deliverer.close()
        return
    broker = await connect(nats_server.url, name="contract")
    await broker.ensure(DEFINITION)
    nats_publisher = NatsPublisher(broker, (BUS,), identity=RuntimeIdentity(), clock=SystemClock())
    nats_publisher.bind(asyncio.get_running_loop())
    yield nats_publisher
    await broker.close()


async def test_each_accepted_entry_gets_an_event_id_in_order(publisher: Publisher) -> None:
    result = await publisher.put_events_async([ENTRY, {**ENTRY, "Detail": '{"n": 2}'}])
    assert result["FailedEntryCount"] == 0
    ids = [entry["EventId"] for entry in result["Entries"]]
    assert len(set(ids)) == 2


async def test_an_entry_for_an_unknown_bus_fails_alone(publisher: Publisher) -> None:
    result = await publisher.put_events_async([{**ENTRY, "EventBusName": "nope"}, ENTRY])
    assert result["FailedEntryCount"] == 1
    assert result["Entries"][0]["ErrorCode"] == "ResourceNotFoundException"
    assert "EventId" in result["Entries"][1]


async def test_an_entry_without_a_source_fails_alone(publisher: Publisher) -> None:
    result = await publisher.put_events_async([{k: v for k, v in ENTRY.items() if k != "Source"}])
    assert result["FailedEntryCount"] == 1
    assert "ErrorCode" in result["Entries"][0]


@pytest.mark.parametrize("entries", [[], [ENTRY] * 11, "not a list"], ids=["none", "11", "str"])
async def test_a_malformed_request_is_refused_whole(publisher: Publisher, entries: object) -> None:
    with pytest.raises(ValidationError):
        await publisher.put_events_async(entries)


async def test_jetstream_stores_an_event_once_however_often_its_publish_is_retried(
    nats_server: NatsServer,
) -> None:
    broker = await connect(nats_server.url, name="dedupe")
    try:
        await broker.ensure(DEFINITION)
        subject = broker.names.event_subject("orders")
        acks = [
            await broker.js.publish(subject, b"{}", headers={"Nats-Msg-Id": "event-1"})
            for _ in range(3)
        ]
        assert [a.duplicate for a in acks] == [None, True, True]
        info = await broker.js.stream_info(broker.names.events_stream)
        assert info.state.messages == 1
    finally:
        await broker.close()


async def test_past_the_backlog_bound_entries_are_throttled(nats_server: NatsServer) -> None:
    broker = await connect(nats_server.url, name="throttle")
    try:
        await broker.ensure(DEFINITION)
        publisher = NatsPublisher(
            broker,
            (BUS,),
            identity=RuntimeIdentity(),
            clock=SystemClock(),
            backlog=lambda: 10,
            max_backlog=10,
        )
        result = await publisher.put_events_async([ENTRY])
        assert result["Entries"][0]["ErrorCode"] == "ThrottlingException"
        assert publisher.throttled == 1
    finally:
        await broker.close()
