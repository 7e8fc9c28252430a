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
from pizzabus.distributed.subjects import TRACE_HEADER
from pizzabus.system import EventBus as BusSpec
from pizzabus.telemetry import NO_TELEMETRY, Recorder, traceid

log = logging.getLogger("pizzabus.distributed.router")

#: Events fetched at once.
BATCH = 64


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
        self._stopping = False

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
        await asyncio.gather(
            *(
                self.broker.js.publish(
                    self.broker.names.delivery_subject(d.target.function),
                    payload,
                    headers=delivery_headers(d),
                )
                for d in deliveries
            )
        )
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
            trace = message.headers.get(TRACE_HEADER) if message.headers else None
            self.routed += await self.route(message.data, bus, trace)
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
