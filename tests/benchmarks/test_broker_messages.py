"""The broker-message count of the cluster benchmark: every message nats-server routes, by
kind, less the idle traffic (its figures are never asserted as targets)."""

from __future__ import annotations

import asyncio

import nats
from benchmarks.broker_messages import kind_of, per_order

from pizzabus.devservers.nats import running_nats


def test_subjects_are_classified_by_what_they_carry() -> None:
    assert kind_of("$JS.ACK.PIZZABUS_DELIVERIES.deliver-x.1.2.3.4.5") == "ack"
    assert kind_of("$JS.API.CONSUMER.MSG.NEXT.PIZZABUS_EVENTS.router") == "pull request"
    assert kind_of("$JS.API.STREAM.INFO.PIZZABUS_EVENTS") == "jetstream api"
    assert kind_of("pizzabus.events.lab_event_bus") == "event publish"
    assert kind_of("pizzabus.deliver.make_pizza") == "delivery publish"
    assert kind_of("pizzabus.push.0a1b") == "push request"
    assert kind_of("_INBOX.abc.1") == "reply"
    assert kind_of("pizzabus.deliver.make_pizza", "$JS.ACK.D.c.1.2.3.4.5") == "pulled message"
    assert kind_of("anything.else") == "other"


def test_each_message_published_per_order_is_counted_once() -> None:
    with running_nats() as server:

        async def publish() -> None:
            client = await nats.connect(server.url)
            for n in range(10):
                await client.publish("pizzabus.events.bus", b"{}")
                await client.publish("pizzabus.push.gw", b"frame")
                await client.publish("pizzabus.push.gw", b"frame")
                await client.publish(f"unrelated.{n}", b"x")
            await client.flush()
            await client.close()

        def load() -> int:
            asyncio.run(publish())
            return 10

        counted = per_order(server.url, load, idle_seconds=0.2)

    assert counted["orders"] == 10
    assert counted["by_kind"] == {"event publish": 1.0, "other": 1.0, "push request": 2.0}
    assert counted["per_order"] == 4.0
