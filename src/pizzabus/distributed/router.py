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

from nats.aio.msg import Msg

from pizzabus.bus.bus import EventBus
from pizzabus.bus.records import Delivery
from pizzabus.clock import Clock
from pizzabus.distributed.broker import Broker
from pizzabus.distributed.feed import PullFeed
from pizzabus.distributed.subjects import TRACE_HEADER
from pizzabus.system import EventBus as BusSpec
from pizzabus.telemetry import NO_TELEMETRY, Recorder, traceid

log = logging.getLogger("pizzabus.distributed.router")

#: Events routed at once by one router (each waits for its deliveries' stored acks).
IN_FLIGHT = 64


def delivery_headers(delivery: Delivery) -> dict[str, str]:
    """What a worker needs besides the event to run and account for a delivery."""
    headers: dict[str, str] = {
        "Nats-Msg-Id": delivery.key,
        "Pizzabus-Event-Id": delivery.event_id,
        "Pizzabus-Bus": delivery.bus,
        "Pizzabus-Rule": delivery.rule,
        "Pizzabus-Index": str(delivery.index),
        "Pizzabus-Published": repr(delivery.published_at),
    }
    if delivery.replay_name:
        headers["Pizzabus-Replay"] = delivery.replay_name
    if delivery.trace is not None:
        headers[TRACE_HEADER] = traceid.header(*delivery.trace)
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

    def __init__(
        self,
        broker: Broker,
        buses: Sequence[BusSpec],
        clock: Clock,
        telemetry: Recorder = NO_TELEMETRY,
    ) -> None:
        self.broker = broker
        self.telemetry = telemetry
        self.buses = {spec.name: EventBus(spec) for spec in buses}
        self.clock = clock
        self.routed = 0
        self._subjects: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._feed: PullFeed | None = None

    async def route(
        self, payload: bytes, bus_name: str | None = None, trace_header: str | None = None
    ) -> int:
        """Publish the deliveries of one event; how many. ``trace_header``: the trace the
        event was put in (its PutEvents entry's ``TraceHeader``)."""
        event = json.loads(payload)
        bus = self.buses.get(bus_name or "") or next(
            (b for b in self.buses.values() if b.name == event.get("event-bus-name")), None
        )
        if bus is None:
            log.warning("event %s names no bus of this system; dropped", event.get("id"))
            return 0
        deliveries = bus.route(event, payload, self.clock.now())
        # The event's spans start here, where its rules are matched (as the embedded bus does
        # at PutEvents); each delivery carries its match's place in the trace.
        traces = self.telemetry.published(
            bus.name,
            event,
            json.dumps(event.get("detail")),
            list(dict.fromkeys(d.rule for d in deliveries)),
            trace_header,
        )
        if traces is not None:
            for delivery in deliveries:
                delivery.trace = traces[delivery.rule]
        await publish_deliveries(self.broker, deliveries)
        return len(deliveries)

    async def run(self) -> None:
        """Route events until cancelled."""
        names = self.broker.names
        self._subjects = {names.event_subject(b): b for b in self.buses}
        self._feed = PullFeed(
            self.broker.nc,
            names.events_stream,
            names.router_consumer,
            self._start,
            lambda: IN_FLIGHT - len(self._tasks),
            batch=IN_FLIGHT // 2,
        )
        try:
            await self._feed.run()
        finally:
            await self._feed.close()
            for task in list(self._tasks):
                task.cancel()

    def _start(self, message: Msg) -> None:
        task = asyncio.create_task(self._one(message, self._subjects.get(message.subject)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _one(self, message: Msg, bus: str | None) -> None:
        try:
            try:
                trace = message.headers.get(TRACE_HEADER) if message.headers else None
                self.routed += await self.route(message.data, bus, trace)
            except Exception as error:
                log.warning("router: routing an event failed (%s); it will be routed again", error)
                await _quietly(message.nak(delay=1.0))
                return
            await _quietly(message.ack())
        finally:
            if self._feed is not None:
                # Its room counts now (its done-callback comes later).
                self._tasks.discard(asyncio.current_task())
                await self._feed.top_up()


async def _quietly(action: object) -> None:
    try:
        await action  # type: ignore[misc]
    except Exception as error:
        log.info("router: ack failed (%s)", error)
