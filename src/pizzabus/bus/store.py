"""Where the bus keeps what it has accepted: events, pending deliveries, dead letters, the
archive. The backend seam of the bus (:class:`EventStore`), with an in-memory implementation.

Durability contract: ``record()`` returns a future that completes once the events and their
deliveries would survive ``kill -9``; PutEvents answers only after it. What happens to a
delivery afterwards (attempted, delivered, dead-lettered) is written lazily: after a crash a
delivery may run again (at least once), never not at all.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import replace
from typing import NamedTuple, Protocol

from pizzabus.bus.deadletters import DeadLetter
from pizzabus.bus.records import Delivery


class StoredEvent(NamedTuple):
    """An accepted event as the log keeps it.

    A tuple of plain values, so that the garbage collector stops tracking it: the in-memory
    archive keeps every event for days, and full collections would otherwise walk them all.
    """

    id: str
    bus: str
    time: float
    payload: bytes
    #: Kept for replay (it matched the bus's archive pattern, and is not itself a replay).
    archived: bool


def done() -> Future[None]:
    future: Future[None] = Future()
    future.set_result(None)
    return future


class EventStore(Protocol):
    """Events, deliveries in flight, dead letters and the archive of the buses."""

    def record(self, events: Sequence[StoredEvent], deliveries: Sequence[Delivery]) -> Future[None]:
        """Keep accepted events and their deliveries; the future completes when durable."""

    def attempted(self, delivery: Delivery) -> None:
        """A delivery attempt failed (its ``attempts`` and ``last_error`` are current)."""

    def delivered(self, delivery: Delivery) -> None:
        """A delivery succeeded: it is done."""

    def dead_lettered(self, delivery: Delivery, letter: DeadLetter) -> DeadLetter:
        """A delivery gave up: it is replaced by a dead letter (returned with its id)."""

    def pending(self) -> list[Delivery]:
        """Deliveries accepted but not finished (to resume after a restart)."""

    def archived(self, bus: str, start: float, end: float) -> list[StoredEvent]:
        """Archived events of ``bus`` with ``start <= time < end``, oldest first."""

    def expire(self, bus: str, archived_before: float) -> int:
        """Forget ``bus``'s archived events older than its retention; returns how many."""

    def trim(self, max_bytes: int) -> int:
        """Forget the oldest archived events (of any bus) until the payloads of the rest take
        at most ``max_bytes``; returns how many. Events a delivery still needs are kept."""

    # The dead-letter queue.
    def put(self, letter: DeadLetter) -> DeadLetter: ...

    def list(self) -> list[DeadLetter]: ...

    def get(self, letter_id: str) -> DeadLetter | None: ...

    def remove(self, letter_id: str) -> bool: ...

    def close(self) -> None: ...


class MemoryEventStore:
    """Everything in memory (``--memory``): nothing survives the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[StoredEvent] = []
        self._archive_bytes = 0
        self._pending: dict[str, Delivery] = {}
        self._letters: dict[str, DeadLetter] = {}
        self._serial = 0

    def record(self, events: Sequence[StoredEvent], deliveries: Sequence[Delivery]) -> Future[None]:
        with self._lock:
            for e in events:
                if e.archived:
                    self._events.append(e)
                    self._archive_bytes += len(e.payload)
            for delivery in deliveries:
                self._pending[delivery.key] = delivery
        return done()

    def attempted(self, delivery: Delivery) -> None:
        pass  # the Delivery object itself is current

    def delivered(self, delivery: Delivery) -> None:
        with self._lock:
            self._pending.pop(delivery.key, None)

    def dead_lettered(self, delivery: Delivery, letter: DeadLetter) -> DeadLetter:
        with self._lock:
            self._pending.pop(delivery.key, None)
        return self.put(letter)

    def pending(self) -> list[Delivery]:
        with self._lock:
            return list(self._pending.values())

    def archived(self, bus: str, start: float, end: float) -> list[StoredEvent]:
        with self._lock:
            return [e for e in self._events if e.bus == bus and start <= e.time < end]

    def expire(self, bus: str, archived_before: float) -> int:
        with self._lock:
            # Events are appended as they are published, so the expired ones lead the list:
            # look at those only (a week of events is millions, swept every minute, while the
            # loop waits for the interpreter); a straggler out of order goes at a later sweep.
            events = self._events
            end = 0
            while end < len(events) and events[end].time < archived_before:
                end += 1
            if end == 0:
                return 0
            head = events[:end]
            kept = [e for e in head if e.bus != bus]
            self._archive_bytes -= sum(len(e.payload) for e in head if e.bus == bus)
            events[:end] = kept  # one memmove, not a new list of millions
            return len(head) - len(kept)

    def trim(self, max_bytes: int) -> int:
        with self._lock:
            if self._archive_bytes <= max_bytes:
                return 0
            ordered = sorted(self._events, key=lambda e: e.time)
            dropped = 0
            while dropped < len(ordered) and self._archive_bytes > max_bytes:
                self._archive_bytes -= len(ordered[dropped].payload)
                dropped += 1
            self._events = ordered[dropped:]
            return dropped

    def put(self, letter: DeadLetter) -> DeadLetter:
        with self._lock:
            self._serial += 1
            stored = replace(letter, id=f"dl-{self._serial}")
            self._letters[stored.id] = stored
            return stored

    def list(self) -> list[DeadLetter]:
        with self._lock:
            return list(self._letters.values())

    def get(self, letter_id: str) -> DeadLetter | None:
        with self._lock:
            return self._letters.get(letter_id)

    def remove(self, letter_id: str) -> bool:
        with self._lock:
            return self._letters.pop(letter_id, None) is not None

    def close(self) -> None:
        pass
