"""Event buses and the PutEvents entry point that routes entries to them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from pizzabus.bus.delivery import Deliverer
from pizzabus.bus.envelope import envelope
from pizzabus.bus.putevents import (
    DEFAULT_MAX_REQUEST_BYTES,
    EntryError,
    ValidEntry,
    validate_entry,
    validate_request,
)
from pizzabus.bus.records import Delivery
from pizzabus.bus.store import EventStore, StoredEvent, done
from pizzabus.clock import Clock
from pizzabus.contracts.identity import RuntimeIdentity
from pizzabus.contracts.ids import uuid4
from pizzabus.errors import DefinitionError
from pizzabus.loop import LoopBinding
from pizzabus.patterns import CompiledPattern, InvalidEventPattern, RuleSet, compile_pattern
from pizzabus.system import EventBus as BusSpec
from pizzabus.system import Target
from pizzabus.telemetry import NO_TELEMETRY, Recorder


def _compile(pattern: Any, where: str) -> CompiledPattern:
    try:
        return compile_pattern(pattern)
    except InvalidEventPattern as error:
        raise DefinitionError(f"{where}: {error.message}") from error


class EventBus:
    """One event bus: its rules, compiled once, the targets of each, and its archive."""

    def __init__(self, spec: BusSpec) -> None:
        self.name = spec.name
        self.spec = spec
        self.rules = RuleSet()
        self.targets: dict[str, tuple[Target, ...]] = {}
        for rule in spec.rules:
            where = f"rule {rule.name!r} on event bus {spec.name!r}"
            self.rules.add(rule.name, _compile(rule.event_pattern, where))
            self.targets[rule.name] = rule.targets
        archive = spec.archive
        self.archive_pattern = (
            _compile(archive.event_pattern, f"archive {archive.name!r}")
            if archive is not None and archive.event_pattern is not None
            else None
        )

    def archives(self, event: dict[str, Any]) -> bool:
        """Whether the bus's archive keeps this event."""
        if self.spec.archive is None or "replay-name" in event:
            return False  # replayed events are not archived again
        return self.archive_pattern is None or self.archive_pattern.matches(event)

    def route(
        self,
        event: dict[str, Any],
        payload: bytes,
        now: float,
        rules: Sequence[str] | None = None,
    ) -> list[Delivery]:
        """The deliveries an event makes: one per target of each matching rule (of ``rules``
        only, when given)."""
        return [
            Delivery(
                event_id=event["id"],
                bus=self.name,
                rule=rule,
                target=target,
                payload=payload,
                published_at=now,
                index=index,
                replay_name=event.get("replay-name"),
            )
            for rule in self.rules.matching(event)
            if rules is None or rule in rules
            for index, target in enumerate(self.targets[rule])
        ]


@dataclass
class _Batch:
    """What one PutEvents request accepted, on its way to the store."""

    results: list[dict[str, str]] = field(default_factory=list)
    events: list[StoredEvent] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    failed: int = 0

    def response(self) -> dict[str, Any]:
        return {"Entries": self.results, "FailedEntryCount": self.failed}


class EventRouter:
    """PutEvents for a set of buses: validates, stamps the envelope, matches, stores, and
    starts delivery.

    ``put_events`` serves handler threads and waits for the store to make the events durable;
    ``put_events_async`` does the same on the event loop. Matching runs in the caller's thread.
    """

    def __init__(
        self,
        buses: Sequence[BusSpec],
        *,
        identity: RuntimeIdentity,
        clock: Clock,
        store: EventStore,
        deliverer: Deliverer,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        telemetry: Recorder | None = None,
    ) -> None:
        self.buses = {spec.name: EventBus(spec) for spec in buses}
        self.telemetry: Recorder = telemetry or NO_TELEMETRY
        self.identity = identity
        self.clock = clock
        self.store = store
        self.deliverer = deliverer
        self.max_request_bytes = max_request_bytes
        self._loop = LoopBinding("EventRouter")
        self.published = 0
        self.throttled = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on ``loop`` (the server's event loop)."""
        self._loop.bind(loop)

    def target(self, bus: str, rule: str, index: int) -> Target:
        """The current target of a stored delivery (for resuming after a restart)."""
        return self.buses[bus].targets[rule][index]

    def put_events(self, entries: object) -> dict[str, Any]:
        """PutEvents from a handler: refuses a malformed request whole (``ValidationError``),
        otherwise answers one result per entry, in order.

        On a handler's own thread it waits until the store has the events. Inline, on the
        loop's thread, it must not block the loop on a disk flush, so it answers once the
        events are queued to the store's log, and their deliveries start when the log has
        them. Nothing that depends on them can be kept before they are: the log applies
        writes in order (the invocation's own "delivered" record comes after), and it stops
        accepting anything after a write fails. A crash before the flush therefore loses the
        events together with the record that the invocation which put them finished, so
        that invocation runs again on restart: at least once, as with any retry.
        """
        batch = self._prepare(entries)
        future = self._record(batch)
        if future.done() or not self._loop.on_loop_thread():
            self._settle(batch, future)
        else:
            future.add_done_callback(lambda stored: self._loop.call(self._settle, batch, stored))
        return batch.response()

    async def put_events_async(self, entries: object) -> dict[str, Any]:
        """PutEvents on the event loop (the HTTP API)."""
        batch = self._prepare(entries)
        future = self._record(batch)
        if not future.done():
            await asyncio.wait([asyncio.wrap_future(future)])
        self._settle(batch, future)
        return batch.response()

    def republish(
        self, bus_name: str, event: dict[str, Any], rules: Sequence[str] | None
    ) -> tuple[list[Delivery], Future[None]] | None:
        """Route an already-stamped event again (a replay); None when the bus is full."""
        bus = self.buses[bus_name]
        now = self.clock.now()
        deliveries = bus.route(event, json.dumps(event).encode(), now, rules)
        if not self.deliverer.admit(len(deliveries)):
            return None
        return deliveries, self.store.record([], deliveries)

    def start(self, deliveries: list[Delivery]) -> None:
        """Start admitted deliveries, from any thread."""
        if deliveries:
            self._loop.call(self.deliverer.submit, deliveries)

    def _prepare(self, entries: object) -> _Batch:
        validate_request(entries, self.max_request_bytes)
        assert isinstance(entries, Sequence)
        batch = _Batch()
        for raw in entries:
            outcome = self._accept(raw)
            if isinstance(outcome, EntryError):
                batch.failed += 1
                batch.results.append(outcome.result())
                continue
            stored, deliveries = outcome
            batch.events.append(stored)
            batch.deliveries.extend(deliveries)
            batch.results.append({"EventId": stored.id})
        return batch

    def _accept(self, raw: object) -> EntryError | tuple[StoredEvent, list[Delivery]]:
        entry = validate_entry(raw)
        if isinstance(entry, EntryError):
            return entry
        bus = self.buses.get(entry.bus_name)
        if bus is None:
            return EntryError(
                "ResourceNotFoundException",
                f"Event bus {entry.bus_name} does not exist. Put events on one of: "
                f"{', '.join(sorted(self.buses))}.",
            )
        return self._publish(bus, entry)

    def _publish(
        self, bus: EventBus, entry: ValidEntry
    ) -> EntryError | tuple[StoredEvent, list[Delivery]]:
        now = self.clock.now()
        event = envelope(
            entry,
            account=self.identity.account,
            region=self.identity.region,
            now=now,
            event_id=uuid4(),
        )
        payload = json.dumps(event).encode()
        deliveries = bus.route(event, payload, now)
        if not self.deliverer.admit(len(deliveries)):
            self.throttled += 1
            self.telemetry.event_throttled(bus.name)
            return EntryError(
                "ThrottlingException",
                f"Rate exceeded: the bus has {self.deliverer.max_in_flight} deliveries in "
                f"flight. Retry this entry with backoff.",
            )
        traces = self.telemetry.published(
            bus.name,
            event,
            entry.detail_text,
            list(dict.fromkeys(d.rule for d in deliveries)),
            entry.trace_header,
        )
        if traces is not None:
            for delivery in deliveries:
                delivery.trace = traces[delivery.rule]
        stored = StoredEvent(event["id"], bus.name, now, payload, bus.archives(event))
        return stored, deliveries

    def _record(self, batch: _Batch) -> Future[None]:
        if not batch.events and not batch.deliveries:
            return done()
        return self.store.record(batch.events, batch.deliveries)

    def _settle(self, batch: _Batch, future: Future[None]) -> None:
        """Once stored: start delivery. If the store failed, nothing was accepted."""
        error = future.exception()
        if error is None:
            self.published += len(batch.events)
            self.start(batch.deliveries)
            return
        self.deliverer.release(len(batch.deliveries))
        failure = {
            "ErrorCode": "InternalException",
            "ErrorMessage": f"The event could not be stored ({error}); retry it.",
        }
        batch.results = [r if "ErrorCode" in r else failure for r in batch.results]
        batch.failed = len(batch.results)
        batch.deliveries = []
