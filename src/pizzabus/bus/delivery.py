"""Delivery of matched events to targets: at least once, with EventBridge's retry policy.

A failed attempt (the function raised or timed out) is retried after an exponential backoff
with jitter, until the target's ``maximum_retry_attempts`` or ``maximum_event_age`` runs out;
then the event is parked in the dead-letter queue with the last error. All waiting goes
through the injected clock, so tests move time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pizzabus.bus.deadletters import DeadLetter
from pizzabus.clock import Clock
from pizzabus.functions.errors import FunctionError
from pizzabus.system import Target

if TYPE_CHECKING:
    from pizzabus.bus.store import EventStore

Invoke = Callable[[str, bytes], Awaitable[Any]]

log = logging.getLogger("pizzabus.delivery")


@dataclass
class Delivery:
    """One matched event on its way to one target."""

    event_id: str
    bus: str
    rule: str
    target: Target
    payload: bytes
    published_at: float
    attempts: int = 0
    last_error: FunctionError | None = None
    #: Which of the rule's targets (a rule may target one function twice).
    index: int = 0
    #: The replay this delivery belongs to, if it is one.
    replay_name: str | None = None

    @property
    def key(self) -> str:
        """Identifies the delivery in the event store."""
        return f"{self.event_id}/{self.replay_name or ''}/{self.rule}/{self.index}"


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal jitter": attempt ``n`` waits between half and all of
    ``min(cap, base * 2**(n-1))`` seconds."""

    base: float = 0.2
    cap: float = 300.0

    def bounds(self, attempt: int) -> tuple[float, float]:
        ceiling = min(self.cap, self.base * 2 ** min(attempt - 1, 60))
        return ceiling / 2, ceiling

    def delay(self, attempt: int, rng: random.Random) -> float:
        low, high = self.bounds(attempt)
        return rng.uniform(low, high)


@dataclass
class DeliveryStats:
    """Counters of what the deliverer has done since it started."""

    submitted: int = 0
    succeeded: int = 0
    failed_attempts: int = 0
    dead_lettered: int = 0
    in_flight: int = 0
    by_target: dict[str, int] = field(default_factory=dict)


#: Deliveries in flight at once before PutEvents starts refusing entries (back-pressure).
DEFAULT_MAX_IN_FLIGHT = 20_000


class Deliverer:
    """Runs deliveries on the event loop, each as its own task.

    The number of deliveries in flight is bounded: :meth:`admit` reserves room before an
    event is accepted, so that an overloaded bus refuses new entries (the publisher is told)
    instead of growing without bound or dropping what it accepted.
    """

    def __init__(
        self,
        invoke: Invoke,
        *,
        clock: Clock,
        store: EventStore,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        self._invoke = invoke
        self.clock = clock
        self.store = store
        self.backoff = backoff or Backoff()
        self.max_in_flight = max_in_flight
        self._rng = rng or random.Random()
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._admitted = 0
        self._admission = threading.Lock()
        self.stats = DeliveryStats()

    def admit(self, count: int, *, force: bool = False) -> bool:
        """Reserve room for ``count`` deliveries (any thread); False when the bus is full.
        ``force`` admits regardless (deliveries accepted before a restart)."""
        with self._admission:
            if not force and count and self._admitted + count > self.max_in_flight:
                return False
            self._admitted += count
            return True

    def release(self, count: int) -> None:
        """Give back room reserved with :meth:`admit` but not used."""
        with self._admission:
            self._admitted -= count

    def submit(self, deliveries: list[Delivery]) -> None:
        """Start delivering admitted deliveries (call on the event loop's thread)."""
        for delivery in deliveries:
            task = asyncio.get_running_loop().create_task(self._deliver(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            self.stats.submitted += 1
            self.stats.in_flight += 1
            self._idle.clear()

    async def drain(self) -> None:
        """Wait until nothing is being delivered."""
        await self._idle.wait()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            await self._attempt_until_done(delivery)
        finally:
            self.release(1)
            self.stats.in_flight -= 1
            if self.stats.in_flight == 0:
                self._idle.set()

    async def _attempt_until_done(self, delivery: Delivery) -> None:
        policy = delivery.target.retry_policy
        while True:
            delivery.attempts += 1
            try:
                await self._invoke(delivery.target.function, delivery.payload)
            except FunctionError as error:
                delivery.last_error = error
                self.stats.failed_attempts += 1
                self.store.attempted(delivery)
            else:
                self.store.delivered(delivery)
                self.stats.succeeded += 1
                name = delivery.target.function
                self.stats.by_target[name] = self.stats.by_target.get(name, 0) + 1
                return
            if delivery.attempts > policy.maximum_retry_attempts:
                self._dead_letter(delivery, "MaximumRetryAttemptsExceeded")
                return
            delay = self.backoff.delay(delivery.attempts, self._rng)
            age_then = self.clock.now() + delay - delivery.published_at
            if age_then > policy.maximum_event_age.total_seconds():
                self._dead_letter(delivery, "MaximumEventAgeExceeded")
                return
            log.info(
                "%s → %s: attempt %d of %d failed (%s); retrying in %.2f s",
                delivery.rule,
                delivery.target.function,
                delivery.attempts,
                policy.maximum_retry_attempts + 1,
                delivery.last_error,
                delay,
            )
            await self.clock.sleep(delay)

    def _dead_letter(self, delivery: Delivery, reason: str) -> None:
        error = delivery.last_error
        self.stats.dead_lettered += 1
        log.warning(
            "%s → %s: event %s dead-lettered after %d attempt(s) (%s): %s; see `pizzabus dlq list`",
            delivery.rule,
            delivery.target.function,
            delivery.event_id,
            delivery.attempts,
            reason,
            error,
        )
        self.store.dead_lettered(
            delivery,
            DeadLetter(
                event_id=delivery.event_id,
                bus=delivery.bus,
                rule=delivery.rule,
                target=delivery.target.function,
                payload=delivery.payload,
                attempts=delivery.attempts,
                reason=reason,
                error_type=error.error_type if error else "",
                error_message=error.message if error else "",
                at=self.clock.now(),
            ),
        )
