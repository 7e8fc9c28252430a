"""The router: each accepted event becomes one delivery per target of each matching rule.

It consumes the events stream (a durable consumer shared by every worker), matches with the
bus's :class:`~pizzabus.bus.bus.EventBus` (the same pattern engine as embedded), publishes each
delivery to its function's subject with a ``Nats-Msg-Id`` naming event, rule and target (so
routing an event twice, after a crash, stores each delivery once), and only then acks the
event.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence

import nats.errors
from nats.aio.msg import Msg

from pizzabus.bus.bus import EventBus
from pizzabus.bus.records import Delivery
from pizzabus.clock import Clock
from pizzabus.distributed.broker import Broker
from pizzabus.system import EventBus as BusSpec

log = logging.getLogger("pizzabus.distributed.router")

#: Events fetched at once.
BATCH = 64


def delivery_headers(delivery: Delivery) -> dict[str, str]:
    """What a worker needs besides the event to run and account for a delivery."""
    headers = {
        "Nats-Msg-Id": delivery.key,
        "Pizzabus-Event-Id": delivery.event_id,
        "Pizzabus-Bus": delivery.bus,
        "Pizzabus-Rule": delivery.rule,
        "Pizzabus-Index": str(delivery.index),
        "Pizzabus-Published": repr(delivery.published_at),
    }
    if delivery.replay_name:
        headers["Pizzabus-Replay"] = delivery.replay_name
    return headers


async def publish_deliveries(broker: Broker, deliveries: Sequence[Delivery]) -> None:
    """Store each delivery on its function's subject (its key is its ``Nats-Msg-Id``)."""
    await asyncio.gather(
        *(
            broker.js.publish(
                broker.names.delivery_subject(d.target.function),
                d.payload,
                headers=delivery_headers(d),
            )
            for d in deliveries
        )
    )


class Router:
    """Routes the events of ``buses`` to deliveries."""

    def __init__(self, broker: Broker, buses: Sequence[BusSpec], clock: Clock) -> None:
        self.broker = broker
        self.buses = {spec.name: EventBus(spec) for spec in buses}
        self.clock = clock
        self.routed = 0
        self._stopping = False

    async def route(self, payload: bytes, bus_name: str | None = None) -> int:
        """Publish the deliveries of one event; how many."""
        event = json.loads(payload)
        bus = self.buses.get(bus_name or "") or next(
            (b for b in self.buses.values() if b.name == event.get("event-bus-name")), None
        )
        if bus is None:
            log.warning("event %s names no bus of this system; dropped", event.get("id"))
            return 0
        deliveries = bus.route(event, payload, self.clock.now())
        await publish_deliveries(self.broker, deliveries)
        return len(deliveries)

    async def run(self) -> None:
        """Route events until cancelled."""
        names = self.broker.names
        subscription = await self.broker.js.pull_subscribe_bind(
            names.router_consumer, names.events_stream
        )
        subjects = {names.event_subject(b): b for b in self.buses}
        while not self._stopping:
            try:
                messages = await asyncio.wait_for(subscription.fetch(BATCH, timeout=1.0), 5.0)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except Exception as error:
                log.warning("router: fetching events failed (%s); retrying", error)
                await asyncio.sleep(0.5)
                continue
            await asyncio.gather(*(self._one(m, subjects.get(m.subject)) for m in messages))

    async def _one(self, message: Msg, bus: str | None) -> None:
        try:
            self.routed += await self.route(message.data, bus)
        except Exception as error:
            log.warning("router: routing an event failed (%s); it will be routed again", error)
            await _quietly(message.nak(delay=1.0))
            return
        await _quietly(message.ack())


async def _quietly(action: object) -> None:
    try:
        await action  # type: ignore[misc]
    except Exception as error:
        log.info("router: ack failed (%s)", error)
