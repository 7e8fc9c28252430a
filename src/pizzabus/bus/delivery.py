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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pizzabus.bus.deadletters import DeadLetter
from pizzabus.bus.records import Delivery
from pizzabus.clock import Clock
from pizzabus.contracts.invoker import NOT_NOW, Invoker
from pizzabus.functions.errors import FunctionError
from pizzabus.telemetry import NO_TELEMETRY, Recorder, traceid

if TYPE_CHECKING:
    from pizzabus.bus.store import EventStore


log = logging.getLogger("pizzabus.delivery")


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
    #: Deliveries not finished, those waiting for a retry included.
    in_flight: int = 0
    #: Deliveries waiting for their next attempt (outside the admission budget).
    waiting_retry: int = 0
    by_target: dict[str, int] = field(default_factory=dict)


#: Deliveries in flight at once before PutEvents starts refusing entries (back-pressure).
DEFAULT_MAX_IN_FLIGHT = 20_000
#: Deliveries waiting for a retry at once; past it, a failed delivery is dead-lettered at once
#: (``RetryQueueFull``, redrivable) rather than kept: what waits is bounded, in memory and on disk.
DEFAULT_MAX_WAITING_RETRY = 100_000


@dataclass
class WaitingRetry:
    """A delivery parked until its next attempt: it holds no room in the admission budget."""

    id: str
    delivery: Delivery
    due: float
    task: asyncio.Task[None] | None = None

    def describe(self) -> dict[str, object]:
        d, error = self.delivery, self.delivery.last_error
        return {
            "id": self.id,
            "event_id": d.event_id,
            "rule": d.rule,
            "target": d.target.function,
            "attempts": d.attempts,
            "next_attempt_at": self.due,
            "error_type": error.error_type if error else "",
            "error_message": error.message if error else "",
        }


class Deliverer:
    """Runs deliveries on the event loop.

    A delivery's first attempt runs from a plain loop callback when its function can be run
    there and then (the invoker's ``invoke_now``: on the embedded runtime, an inline function
    with a warm environment free); anything
    else, and every retry, runs as a task of its own. A task and its coroutines cost about as
    much as a quick handler, and most deliveries succeed at once.

    The number of deliveries in flight is bounded: :meth:`admit` reserves room before an
    event is accepted, so that an overloaded bus refuses new entries (the publisher is told)
    instead of growing without bound or dropping what it accepted.

    A delivery waiting out the backoff before a retry gives its room back and waits parked
    (:meth:`waiting`; at most ``max_waiting_retry``, each also kept by the store): a function
    that always fails would otherwise hold the budget for a day and throttle every publisher.
    It takes room again (regardless of the budget, as it was accepted) for its next attempt.
    """

    def __init__(
        self,
        invoker: Invoker,
        *,
        clock: Clock,
        store: EventStore,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        fast_path: bool = True,
        telemetry: Recorder | None = None,
        max_waiting_retry: int = DEFAULT_MAX_WAITING_RETRY,
    ) -> None:
        """``fast_path``: try each first attempt at once (``invoker.invoke_now``), from a loop
        callback; False runs every attempt as a task."""
        self._invoke = invoker.invoke
        self._invoke_now = invoker.invoke_now if fast_path else None
        self.telemetry: Recorder = telemetry or NO_TELEMETRY
        self.clock = clock
        self.store = store
        self.backoff = backoff or Backoff()
        self.max_in_flight = max_in_flight
        self.max_waiting_retry = max_waiting_retry
        self._waiting: dict[str, WaitingRetry] = {}
        self._waiting_serial = 0
        self._rng = rng or random.Random()
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._admitted = 0
        self._admission = threading.Lock()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
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

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on ``loop``. Needed when :meth:`submit` is called from inside an inline
        handler, which must not see the loop as running (otherwise the running loop is used)."""
        self._loop = loop

    def submit(self, deliveries: list[Delivery]) -> None:
        """Start delivering admitted deliveries (call on the event loop's thread)."""
        loop = self._loop or asyncio.get_running_loop()
        for delivery in deliveries:
            self.stats.submitted += 1
            self.stats.in_flight += 1
            self._idle.clear()
            if self._invoke_now is None:
                self._spawn(delivery, None)
            else:
                # Soon, not now: the caller (a handler's PutEvents, say) finishes first.
                loop.call_soon(self._begin, delivery)

    async def drain(self) -> None:
        """Wait until nothing is being delivered."""
        await self._idle.wait()

    async def close(self) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _begin(self, delivery: Delivery) -> None:
        """The first attempt, right here if the function can run now; otherwise in a task."""
        if self._closed:
            return  # stopping: what was accepted is in the store, and resumes on restart
        assert self._invoke_now is not None
        delivery.attempts += 1
        traceid.current.set(delivery.trace)  # this callback's own context: the invocation's parent
        try:
            result = self._invoke_now(delivery.target.function, delivery.payload)
        except FunctionError as error:
            delay = self._failed(delivery, error)
            if delay is None:
                self._finished()
            else:
                self._spawn(delivery, delay)
            return
        except Exception:
            # A fault of pizzabus's own, not the handler's: as when a delivery's task dies,
            # the delivery stays in the store, to resume on restart, and is said here.
            log.exception("delivering event %s to %s failed", delivery.event_id, delivery.rule)
            self._finished()
            return
        if result is NOT_NOW:
            delivery.attempts -= 1
            self._spawn(delivery, None)
            return
        self._succeeded(delivery)
        self._finished()

    def _spawn(self, delivery: Delivery, first_delay: float | None) -> None:
        loop = self._loop or asyncio.get_running_loop()
        task = loop.create_task(self._deliver(delivery, first_delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, delivery: Delivery, first_delay: float | None) -> None:
        try:
            if first_delay is not None:
                await self._wait_for_retry(delivery, first_delay)
            await self._attempt_until_done(delivery)
        finally:
            self._finished()

    async def _wait_for_retry(self, delivery: Delivery, delay: float) -> None:
        """Wait ``delay`` parked: the delivery's room goes back to the budget meanwhile."""
        self._waiting_serial += 1
        parked = WaitingRetry(
            f"r-{self._waiting_serial}", delivery, self.clock.now() + delay, asyncio.current_task()
        )
        self._waiting[parked.id] = parked
        self.stats.waiting_retry += 1
        self.release(1)
        try:
            await self.clock.sleep(delay)
        finally:
            # Room again for the attempt (or, when cancelled, for `_finished` to give back).
            self.admit(1, force=True)
            self._unpark(parked.id)

    def waiting(self) -> list[WaitingRetry]:
        """The deliveries waiting for a retry, soonest first."""
        return sorted(self._waiting.values(), key=lambda parked: parked.due)

    def cancel_retries(self, ids: list[str] | None) -> list[str]:
        """Stop waiting deliveries (``None``: all of them): each goes to the dead-letter queue
        (reason ``RetryCancelled``), from where it can be redriven or purged. Returns the ids
        cancelled; an unknown id raises KeyError naming it."""
        chosen = list(self._waiting) if ids is None else ids
        unknown = [i for i in chosen if i not in self._waiting]
        if unknown:
            raise KeyError(", ".join(unknown))
        for retry_id in chosen:
            parked = self._unpark(retry_id)
            if parked is None:
                continue  # named twice
            self._dead_letter(parked.delivery, "RetryCancelled")
            if parked.task is not None:
                parked.task.cancel()
        return chosen

    def _unpark(self, retry_id: str) -> WaitingRetry | None:
        parked = self._waiting.pop(retry_id, None)
        if parked is not None:
            self.stats.waiting_retry -= 1
        return parked

    def _finished(self) -> None:
        self.release(1)
        self.stats.in_flight -= 1
        if self.stats.in_flight == 0:
            self._idle.set()

    async def _attempt_until_done(self, delivery: Delivery) -> None:
        while True:
            delivery.attempts += 1
            traceid.current.set(delivery.trace)
            try:
                await self._invoke(delivery.target.function, delivery.payload)
            except FunctionError as error:
                delay = self._failed(delivery, error)
                if delay is None:
                    return
                await self._wait_for_retry(delivery, delay)
            else:
                self._succeeded(delivery)
                return

    def _succeeded(self, delivery: Delivery) -> None:
        self.store.delivered(delivery)
        self.stats.succeeded += 1
        name = delivery.target.function
        self.stats.by_target[name] = self.stats.by_target.get(name, 0) + 1
        self.telemetry.delivered(delivery.rule, name)

    def _failed(self, delivery: Delivery, error: FunctionError) -> float | None:
        """Record a failed attempt; the delay before the next one, or None when the
        delivery was dead-lettered instead."""
        policy = delivery.target.retry_policy
        delivery.last_error = error
        self.stats.failed_attempts += 1
        self.store.attempted(delivery)
        if delivery.attempts > policy.maximum_retry_attempts:
            self._dead_letter(delivery, "MaximumRetryAttemptsExceeded")
            return None
        if len(self._waiting) >= self.max_waiting_retry:
            self._dead_letter(delivery, "RetryQueueFull")
            return None
        delay = self.backoff.delay(delivery.attempts, self._rng)
        age_then = self.clock.now() + delay - delivery.published_at
        if age_then > policy.maximum_event_age.total_seconds():
            self._dead_letter(delivery, "MaximumEventAgeExceeded")
            return None
        self.telemetry.retrying(
            delivery.rule, delivery.target.function, delivery.trace, delivery.attempts, error, delay
        )
        log.info(
            "%s → %s: attempt %d of %d failed (%s); retrying in %.2f s",
            delivery.rule,
            delivery.target.function,
            delivery.attempts,
            policy.maximum_retry_attempts + 1,
            delivery.last_error,
            delay,
        )
        return delay

    def _dead_letter(self, delivery: Delivery, reason: str) -> None:
        error = delivery.last_error
        self.stats.dead_lettered += 1
        self.telemetry.dead_lettered(
            delivery.rule,
            delivery.target.function,
            delivery.trace,
            delivery.attempts,
            reason,
            error,
        )
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
                stack_trace=tuple(error.stack_trace) if error else (),
            ),
        )
