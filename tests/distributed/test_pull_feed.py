"""The pull feed: a consumer gets its messages as they come, never more at once than it has
room for, for a few pull requests rather than one per message."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from pizzabus.devservers.nats import NatsServer
from pizzabus.distributed.feed import PullFeed

STREAM = "FEED"
CONSUMER = "work"
#: A generous guard against a hang; no assertion waits on it.
GUARD = 20.0


@pytest.fixture
async def client(nats_server: NatsServer) -> AsyncIterator[Client]:
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=STREAM, subjects=["feed.>"]))
    await js.add_consumer(
        STREAM, ConsumerConfig(durable_name=CONSUMER, ack_policy=AckPolicy.EXPLICIT)
    )
    yield nc
    await nc.close()


class Worker:
    """Takes messages into ``slots`` slots; each is held until released."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.held: list[Msg] = []
        self.done = 0
        self.most_held = 0
        self.arrived = asyncio.Condition()

    def room(self) -> int:
        return self.slots - len(self.held)

    def take(self, message: Msg) -> None:
        self.held.append(message)
        self.most_held = max(self.most_held, len(self.held))
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self.arrived:
            self.arrived.notify_all()

    async def wait_for(self, count: int) -> None:
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: len(self.held) >= count), GUARD)

    async def release_all(self, feed: PullFeed) -> None:
        for message in self.held:
            await message.ack()
            self.done += 1
        self.held.clear()
        await feed.top_up()


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.05)


async def _publish(nc: Client, count: int) -> None:
    js = nc.jetstream()
    for n in range(count):
        await js.publish(f"feed.{n}", str(n).encode())


async def test_messages_published_after_the_request_arrive_without_another_request(
    client: Client,
) -> None:
    worker = Worker(slots=8)
    feed = PullFeed(client, STREAM, CONSUMER, worker.take, worker.room, batch=4)
    task = asyncio.create_task(feed.run())
    try:
        await _publish(client, 5)
        await worker.wait_for(5)
        assert [m.data for m in worker.held] == [b"0", b"1", b"2", b"3", b"4"]
        assert feed.requests_sent == 1
    finally:
        task.cancel()
        await feed.close()


async def test_a_consumer_never_holds_more_messages_than_it_has_room_for(client: Client) -> None:
    await _publish(client, 30)
    worker = Worker(slots=4)
    feed = PullFeed(client, STREAM, CONSUMER, worker.take, worker.room, batch=2)
    task = asyncio.create_task(feed.run())
    try:
        while worker.done < 30:
            await worker.wait_for(min(4, 30 - worker.done))
            assert len(worker.held) <= 4
            await worker.release_all(feed)
        assert worker.most_held == 4
        assert feed.requests_sent <= 30 // 4 + 2  # a request per full round, not per message
    finally:
        task.cancel()
        await feed.close()


async def test_an_expired_request_is_asked_again_and_later_messages_still_arrive(
    client: Client,
) -> None:
    worker = Worker(slots=2)
    feed = PullFeed(client, STREAM, CONSUMER, worker.take, worker.room, expires=0.3)
    task = asyncio.create_task(feed.run())
    try:
        # Past several expiries (each ends with a 408 status that frees its request).
        await asyncio.wait_for(_until(lambda: feed.requests_sent >= 3), GUARD)
        await _publish(client, 2)
        await worker.wait_for(2)
        assert [m.data for m in worker.held] == [b"0", b"1"]
    finally:
        task.cancel()
        await feed.close()
