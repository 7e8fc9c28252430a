"""PutEvents on JetStream: one stored publish per accepted event.

The entry is validated and stamped exactly as on the embedded bus (:mod:`pizzabus.bus`); the
rules are matched later, by the router, so that "accepted" means one stored write and a
retried PutEvents never delivers to some targets only. The event id is the ``Nats-Msg-Id``:
a publish retried within the duplicate window is stored once.

Back-pressure: past ``max_backlog`` events and deliveries waiting, entries are answered
``ThrottlingException``. A broker that does not answer in time gives ``InternalException``
(retryable) instead of a hanging request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

import nats.errors
from nats.js.errors import APIError

from pizzabus.bus.bus import EventBus
from pizzabus.bus.envelope import envelope
from pizzabus.bus.putevents import (
    DEFAULT_MAX_REQUEST_BYTES,
    EntryError,
    validate_entry,
    validate_request,
)
from pizzabus.clock import Clock
from pizzabus.contracts.identity import RuntimeIdentity
from pizzabus.contracts.ids import uuid4
from pizzabus.distributed.broker import Broker, BrokerUnavailable
from pizzabus.distributed.subjects import TRACE_HEADER
from pizzabus.loop import wait_on_loop
from pizzabus.system import EventBus as BusSpec

#: Events and deliveries waiting before PutEvents answers ThrottlingException.
DEFAULT_MAX_BACKLOG = 100_000
#: How long a publish may wait for JetStream's acknowledgement.
PUBLISH_TIMEOUT = 2.0
#: Publishes of one event before its entry is answered InternalException.
PUBLISH_ATTEMPTS = 4
UNREACHABLE = "The event bus's broker (NATS) is unreachable right now; retry shortly."


class NatsPublisher:
    """The :class:`~pizzabus.contracts.Publisher` of a distributed node."""

    def __init__(
        self,
        broker: Broker,
        buses: Sequence[BusSpec],
        *,
        identity: RuntimeIdentity,
        clock: Clock,
        backlog: Callable[[], int] = lambda: 0,
        max_backlog: int = DEFAULT_MAX_BACKLOG,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    ) -> None:
        self.broker = broker
        self.buses = {spec.name: EventBus(spec) for spec in buses}
        self.identity = identity
        self.clock = clock
        self.backlog = backlog
        self.max_backlog = max_backlog
        self.max_request_bytes = max_request_bytes
        self.loop: asyncio.AbstractEventLoop | None = None
        self.published = 0
        self.throttled = 0
        self.failed = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Publish on ``loop`` (handlers call :meth:`put_events` from their threads)."""
        self.loop = loop

    def put_events(self, entries: Sequence[Any]) -> dict[str, Any]:
        """PutEvents from a handler's thread (never the loop's own)."""
        assert self.loop is not None, "NatsPublisher.bind(loop) must be called first"
        return wait_on_loop(self.loop, self.put_events_async(entries), PUBLISH_TIMEOUT * 2)

    async def put_events_async(self, entries: object) -> dict[str, Any]:
        validate_request(entries, self.max_request_bytes)
        if not self.broker.nc.is_connected:
            # Reconnecting: answer now (a retryable 503) rather than wait out a timeout.
            raise BrokerUnavailable(UNREACHABLE)
        assert isinstance(entries, Sequence)
        results: list[dict[str, str] | None] = []
        pending: list[tuple[int, str, bytes, str, str | None]] = []
        throttled = self.backlog() >= self.max_backlog
        for raw in entries:
            entry = validate_entry(raw)
            if isinstance(entry, EntryError):
                results.append(entry.result())
                continue
            bus = self.buses.get(entry.bus_name)
            if bus is None:
                results.append(
                    EntryError(
                        "ResourceNotFoundException",
                        f"Event bus {entry.bus_name} does not exist. Put events on one of: "
                        f"{', '.join(sorted(self.buses))}.",
                    ).result()
                )
                continue
            if throttled:
                self.throttled += 1
                results.append(
                    EntryError(
                        "ThrottlingException",
                        f"Rate exceeded: {self.max_backlog} or more events and deliveries are "
                        "waiting. Retry this entry with backoff.",
                    ).result()
                )
                continue
            event = envelope(
                entry,
                account=self.identity.account,
                region=self.identity.region,
                now=self.clock.now(),
                event_id=uuid4(),
            )
            pending.append(
                (
                    len(results),
                    event["id"],
                    json.dumps(event).encode(),
                    bus.name,
                    entry.trace_header,
                )
            )
            results.append(None)
        if pending:
            outcomes = await asyncio.gather(*(self._publish(*p[1:]) for p in pending))
            for (index, event_id, *_), error in zip(pending, outcomes, strict=True):
                results[index] = {"EventId": event_id} if error is None else error
        final = [r for r in results if r is not None]
        failed = sum(1 for r in final if "ErrorCode" in r)
        return {"Entries": final, "FailedEntryCount": failed}

    async def _publish(
        self, event_id: str, payload: bytes, bus: str, trace_header: str | None = None
    ) -> dict[str, str] | None:
        """Store one event; None when stored, else the entry's error.

        A publish that got no answer (a JetStream cluster electing a new leader, a node lost)
        is sent again with the same ``Nats-Msg-Id``: if the first one was stored after all,
        JetStream drops the copy, so the event is stored once either way.
        """
        subject = self.broker.names.event_subject(bus)
        headers = {"Nats-Msg-Id": event_id}
        if trace_header is not None:
            # The router, on a worker, starts the event's spans in this trace.
            headers[TRACE_HEADER] = trace_header
        error: Exception | None = None
        for attempt in range(PUBLISH_ATTEMPTS):
            if attempt:
                await asyncio.sleep(0.25 * 2**attempt)
            try:
                await self.broker.js.publish(
                    subject, payload, timeout=PUBLISH_TIMEOUT, headers=headers
                )
            except (nats.errors.Error, APIError, TimeoutError) as failure:
                if not self.broker.nc.is_connected:
                    # The connection dropped while this publish waited (the client notices a
                    # lost server only when its read fails): a retryable 503 now, as when the
                    # request arrived during the reconnect, not an entry error seconds later.
                    raise BrokerUnavailable(UNREACHABLE) from failure
                error = failure
                continue
            self.published += 1
            return None
        self.failed += 1
        return {
            "ErrorCode": "InternalException",
            "ErrorMessage": f"The event could not be stored ({error or 'NATS timed out'}); "
            "retry it.",
        }
