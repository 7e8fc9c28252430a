"""Event buses and the PutEvents entry point that routes entries to them."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from pizzabus.bus.delivery import Delivery
from pizzabus.bus.envelope import envelope
from pizzabus.bus.putevents import (
    DEFAULT_MAX_REQUEST_BYTES,
    EntryError,
    ValidEntry,
    validate_entry,
    validate_request,
)
from pizzabus.clock import Clock
from pizzabus.errors import DefinitionError
from pizzabus.functions.runtime import RuntimeIdentity
from pizzabus.patterns import InvalidEventPattern, RuleSet, compile_pattern
from pizzabus.system import EventBus as BusSpec
from pizzabus.system import Target

#: Receives the deliveries of one published event (on the event loop's thread).
Dispatch = Callable[[list[Delivery]], None]


class EventBus:
    """One event bus: its rules, compiled once, and the targets of each."""

    def __init__(self, spec: BusSpec) -> None:
        self.name = spec.name
        self.rules = RuleSet()
        self.targets: dict[str, tuple[Target, ...]] = {}
        for rule in spec.rules:
            try:
                self.rules.add(rule.name, compile_pattern(rule.event_pattern))
            except InvalidEventPattern as error:
                raise DefinitionError(
                    f"rule {rule.name!r} on event bus {spec.name!r}: {error.message}"
                ) from error
            self.targets[rule.name] = rule.targets

    def route(self, event: dict[str, Any], payload: bytes, now: float) -> list[Delivery]:
        """The deliveries an event makes: one per target of each matching rule."""
        return [
            Delivery(
                event_id=event["id"],
                bus=self.name,
                rule=rule,
                target=target,
                payload=payload,
                published_at=now,
            )
            for rule in self.rules.matching(event)
            for target in self.targets[rule]
        ]


class EventRouter:
    """PutEvents for a set of buses: validates, stamps the envelope, matches, dispatches.

    Thread-safe: handlers call it from their execution environments' threads, the HTTP API
    from the event loop. Matching runs in the caller's thread; delivery starts on the loop.
    """

    def __init__(
        self,
        buses: Sequence[BusSpec],
        *,
        identity: RuntimeIdentity,
        clock: Clock,
        dispatch: Dispatch,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    ) -> None:
        self.buses = {spec.name: EventBus(spec) for spec in buses}
        self.identity = identity
        self.clock = clock
        self.max_request_bytes = max_request_bytes
        self._dispatch = dispatch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self.published = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on ``loop`` (the server's event loop)."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def put_events(self, entries: object) -> dict[str, Any]:
        """PutEvents: refuses a malformed request whole (``ValidationError``), otherwise
        answers one result per entry, in order, with ``FailedEntryCount``."""
        validate_request(entries, self.max_request_bytes)
        assert isinstance(entries, Sequence)
        results: list[dict[str, str]] = []
        deliveries: list[Delivery] = []
        failed = 0
        for entry in entries:
            outcome = self._accept(entry)
            if isinstance(outcome, EntryError):
                failed += 1
                results.append(outcome.result())
                continue
            event_id, routed = outcome
            deliveries.extend(routed)
            results.append({"EventId": event_id})
        if deliveries:
            self._start(deliveries)
        return {"FailedEntryCount": failed, "Entries": results}

    def _accept(self, raw: object) -> EntryError | tuple[str, list[Delivery]]:
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

    def _publish(self, bus: EventBus, entry: ValidEntry) -> tuple[str, list[Delivery]]:
        now = self.clock.now()
        event = envelope(
            entry,
            account=self.identity.account,
            region=self.identity.region,
            now=now,
            event_id=str(uuid.uuid4()),
        )
        payload = json.dumps(event).encode()
        self.published += 1
        return event["id"], bus.route(event, payload, now)

    def _start(self, deliveries: list[Delivery]) -> None:
        if self._loop is None:
            raise RuntimeError("EventRouter.bind(loop) must be called before events are put")
        if threading.get_ident() == self._loop_thread:
            self._dispatch(deliveries)
        else:
            self._loop.call_soon_threadsafe(self._dispatch, deliveries)
