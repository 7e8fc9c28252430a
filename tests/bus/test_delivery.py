"""Delivery retries failed attempts with backoff on the injected clock, then dead-letters."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import pytest

from pizzabus.bus.delivery import Backoff, Deliverer, DeliveryStats, WaitingRetry
from pizzabus.bus.records import Delivery
from pizzabus.bus.store import MemoryEventStore
from pizzabus.clock import ManualClock
from pizzabus.contracts.invoker import NOT_NOW, Invocations
from pizzabus.functions.errors import FunctionError, FunctionTimedOut
from pizzabus.system import RetryPolicy, Target
from pizzabus.telemetry.recorder import NullRecorder


class FlakyFunction:
    """Fails the first ``failures`` invocations, then succeeds; records when it was called."""

    def __init__(self, clock: ManualClock, failures: int, timeout: bool = False) -> None:
        self.clock = clock
        self.failures = failures
        self.timeout = timeout
        self.calls: list[float] = []

    async def __call__(self, name: str, payload: bytes) -> None:
        self.calls.append(self.clock.monotonic())
        if len(self.calls) <= self.failures:
            if self.timeout:
                raise FunctionTimedOut("req", 3)
            raise FunctionError("PizzaBurnt", "too hot")


def delivery(clock: ManualClock, policy: RetryPolicy) -> Delivery:
    return Delivery(
        event_id="e1",
        bus="lab_event_bus",
        rule="r",
        target=Target("cook_pizza", retry_policy=policy),
        payload=b"{}",
        published_at=clock.now(),
    )


async def run_until_idle(deliverer: Deliverer, clock: ManualClock, step: float = 1.0) -> None:
    for _ in range(100_000):
        for _ in range(10):  # let what is due now run (a first attempt needs a few turns)
            await asyncio.sleep(0)
        if deliverer.stats.in_flight == 0:
            return
        await clock.advance(step)
    raise AssertionError("delivery never finished")


async def test_a_failed_attempt_is_retried_until_it_succeeds() -> None:
    clock = ManualClock()
    dead = MemoryEventStore()
    function = FlakyFunction(clock, failures=3)
    deliverer = Deliverer(Invocations(function), clock=clock, store=dead, rng=random.Random(1))
    deliverer.admit(1)
    deliverer.submit([delivery(clock, RetryPolicy())])
    await run_until_idle(deliverer, clock, step=0.05)
    assert len(function.calls) == 4
    assert deliverer.stats.succeeded == 1
    assert dead.list() == []


async def test_retries_wait_exponentially_longer_within_the_jitter_bounds() -> None:
    clock = ManualClock()
    backoff = Backoff(base=1.0, cap=1000.0)
    function = FlakyFunction(clock, failures=6)
    deliverer = Deliverer(
        Invocations(function), clock=clock, store=MemoryEventStore(), backoff=backoff
    )
    deliverer.admit(1)
    deliverer.submit([delivery(clock, RetryPolicy())])
    await run_until_idle(deliverer, clock, step=0.01)
    gaps = [b - a for a, b in zip(function.calls, function.calls[1:], strict=False)]
    for attempt, gap in enumerate(gaps, start=1):
        low, high = backoff.bounds(attempt)
        assert low - 0.011 <= gap <= high + 0.011, (attempt, gap)
    assert backoff.bounds(1) == (0.5, 1.0)
    assert backoff.bounds(6) == (16.0, 32.0)


def test_backoff_is_capped() -> None:
    assert Backoff(base=1.0, cap=60.0).bounds(30) == (30.0, 60.0)


async def test_a_delivery_that_runs_out_of_attempts_is_dead_lettered_with_its_last_error() -> None:
    clock = ManualClock()
    dead = MemoryEventStore()
    function = FlakyFunction(clock, failures=100, timeout=True)
    deliverer = Deliverer(Invocations(function), clock=clock, store=dead)
    deliverer.admit(1)
    deliverer.submit([delivery(clock, RetryPolicy(maximum_retry_attempts=2))])
    await run_until_idle(deliverer, clock, step=0.05)
    assert len(function.calls) == 3  # the first attempt and two retries
    [letter] = dead.list()
    assert letter.reason == "MaximumRetryAttemptsExceeded"
    assert letter.attempts == 3
    assert letter.target == "cook_pizza"
    assert letter.error_type == "Sandbox.Timedout"
    assert "Task timed out" in letter.error_message


def _attempts_within(age: float, backoff: Backoff, rng: random.Random) -> list[float]:
    """When each attempt starts, for a delivery that always fails and may not outlive
    ``age``: the schedule the deliverer must follow, drawn from the same random sequence."""
    starts = [0.0]
    while True:
        delay = backoff.delay(len(starts), rng)
        if starts[-1] + delay > age:
            return starts
        starts.append(starts[-1] + delay)


async def test_a_delivery_older_than_the_maximum_event_age_is_dead_lettered() -> None:
    clock = ManualClock()
    dead = MemoryEventStore()
    function = FlakyFunction(clock, failures=10_000)
    backoff = Backoff(base=10, cap=100)
    deliverer = Deliverer(
        Invocations(function), clock=clock, store=dead, backoff=backoff, rng=random.Random(7)
    )
    policy = RetryPolicy(maximum_retry_attempts=185, maximum_event_age=timedelta(seconds=300))
    deliverer.admit(1)
    deliverer.submit([delivery(clock, policy)])
    await run_until_idle(deliverer, clock, step=1000.0)  # sleepers wake at their exact deadline
    [letter] = dead.list()
    expected = _attempts_within(300, backoff, random.Random(7))
    assert letter.reason == "MaximumEventAgeExceeded"
    assert letter.attempts == len(expected)
    assert function.calls == pytest.approx(expected)


def test_backoff_delays_spread_over_the_whole_jitter_range() -> None:
    backoff = Backoff(base=1.0, cap=1000.0)
    rng = random.Random(3)
    for attempt in (1, 4, 8):
        low, high = backoff.bounds(attempt)
        delays = [backoff.delay(attempt, rng) for _ in range(400)]
        assert all(low <= d <= high for d in delays)
        assert min(delays) < low + (high - low) * 0.05
        assert max(delays) > high - (high - low) * 0.05
        assert len(set(delays)) == len(delays)


async def test_deliveries_that_fail_together_retry_apart() -> None:
    """Jitter: targets that failed at the same moment do not all come back at once."""
    clock = ManualClock()
    functions = [FlakyFunction(clock, failures=1) for _ in range(5)]

    async def invoke(name: str, payload: bytes) -> None:
        await functions[int(payload)](name, payload)

    deliverer = Deliverer(
        Invocations(invoke), clock=clock, store=MemoryEventStore(), rng=random.Random(11)
    )
    deliverer.admit(5)
    deliverer.submit(
        [
            Delivery(f"e{n}", "b", "r", Target("f"), str(n).encode(), clock.now(), index=n)
            for n in range(5)
        ]
    )
    await run_until_idle(deliverer, clock, step=1000.0)
    assert [len(f.calls) for f in functions] == [2] * 5
    retried_at = [f.calls[1] for f in functions]
    assert len(set(retried_at)) == 5


@pytest.mark.parametrize(
    ("attempts", "age"),
    [pytest.param(186, 86_400, id="too-many-attempts"), pytest.param(5, 30, id="age-too-short")],
)
def test_a_retry_policy_outside_awss_limits_is_refused(attempts: int, age: int) -> None:
    with pytest.raises(Exception, match="must be between"):
        RetryPolicy(maximum_retry_attempts=attempts, maximum_event_age=timedelta(seconds=age))


class RunNow:
    """An ``invoke_now`` whose attempt succeeds, fails, cannot run now (``NOT_NOW``), or
    breaks with an error of pizzabus's own."""

    def __init__(self, outcome: str) -> None:
        self.outcome = outcome
        self.calls = 0

    def __call__(self, name: str, payload: bytes) -> object:
        self.calls += 1
        if self.outcome == "ok":
            return {"statusCode": 200}
        if self.outcome == "fail":
            raise FunctionError("PizzaBurnt", "too hot")
        if self.outcome == "later":
            return NOT_NOW
        raise RuntimeError("a bug in the runtime")


@pytest.mark.parametrize(
    ("outcome", "now_calls", "task_calls", "succeeded", "failed_attempts"),
    [
        ("ok", 1, 0, 1, 0),  # done in the callback, no task
        ("fail", 1, 1, 1, 1),  # the retry runs in a task after the backoff
        ("later", 1, 1, 1, 0),  # the function cannot run now: a task does it
    ],
)
async def test_a_first_attempt_runs_at_once_when_the_function_can(
    outcome: str, now_calls: int, task_calls: int, succeeded: int, failed_attempts: int
) -> None:
    clock = ManualClock()
    store = MemoryEventStore()
    later = FlakyFunction(clock, failures=0)
    now = RunNow(outcome)
    deliverer = Deliverer(Invocations(later, now), clock=clock, store=store)
    deliverer.admit(1)
    deliverer.submit([delivery(clock, RetryPolicy(maximum_retry_attempts=3))])
    await run_until_idle(deliverer, clock, step=0.5)
    assert (now.calls, len(later.calls)) == (now_calls, task_calls)
    assert deliverer.stats.succeeded == succeeded
    assert deliverer.stats.failed_attempts == failed_attempts


async def test_a_fault_of_pizzabus_in_the_first_attempt_is_logged_and_frees_the_slot(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    deliverer = Deliverer(
        Invocations(FlakyFunction(clock, failures=0), RunNow("bug")),
        clock=clock,
        store=MemoryEventStore(),
        max_in_flight=1,
    )
    assert deliverer.admit(1)
    deliverer.submit([delivery(clock, RetryPolicy())])
    await run_until_idle(deliverer, clock)
    assert "a bug in the runtime" in caplog.text
    assert deliverer.admit(1)  # the room it held is free again


# -- deliveries waiting for a retry hold no room in the admission budget -----------------------


def _numbered(clock: ManualClock, n: int) -> Delivery:
    made = delivery(clock, RetryPolicy())
    made.event_id = f"e{n}"
    return made


async def _first_attempts_fail(deliverer: Deliverer, clock: ManualClock, count: int) -> None:
    assert deliverer.admit(count)
    deliverer.submit([_numbered(clock, n) for n in range(count)])
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_delivery_waiting_for_a_retry_gives_its_room_back() -> None:
    # GIVEN a budget of 2, filled by deliveries into a function that always fails
    clock = ManualClock()
    function = FlakyFunction(clock, failures=10**9)
    deliverer = Deliverer(
        Invocations(function), clock=clock, store=MemoryEventStore(), max_in_flight=2
    )
    await _first_attempts_fail(deliverer, clock, 2)

    # THEN both wait for their retry outside the budget: new events are admitted
    assert deliverer.stats.waiting_retry == 2
    assert sorted(w.delivery.event_id for w in deliverer.waiting()) == ["e0", "e1"]
    assert deliverer.admit(2)
    deliverer.release(2)

    # AND a retry takes room again only while it runs
    await clock.advance(0.2)  # past the first backoff (at most 0.2 s)
    assert len(function.calls) == 4
    assert deliverer.stats.waiting_retry == 2
    assert deliverer.admit(2)
    deliverer.release(2)
    await deliverer.close()


async def test_cancelled_retries_become_dead_letters_and_free_everything() -> None:
    clock = ManualClock()
    store = MemoryEventStore()
    function = FlakyFunction(clock, failures=10**9)
    deliverer = Deliverer(Invocations(function), clock=clock, store=store, max_in_flight=3)
    await _first_attempts_fail(deliverer, clock, 3)
    first, *others = deliverer.waiting()

    assert deliverer.cancel_retries([first.id]) == [first.id]
    with pytest.raises(KeyError, match="r-nope"):
        deliverer.cancel_retries(["r-nope"])
    assert sorted(deliverer.cancel_retries(None)) == sorted(w.id for w in others)
    await deliverer.drain()

    assert sorted((d.event_id, d.reason) for d in store.list()) == [
        ("e0", "RetryCancelled"),
        ("e1", "RetryCancelled"),
        ("e2", "RetryCancelled"),
    ]
    assert store.pending() == []
    assert (deliverer.stats.in_flight, deliverer.stats.waiting_retry) == (0, 0)
    assert deliverer.admit(3)  # the whole budget is free
    assert first.describe()["error_type"] == "PizzaBurnt"


async def test_past_the_bound_on_waiting_retries_a_failure_is_dead_lettered_at_once() -> None:
    clock = ManualClock()
    store = MemoryEventStore()
    function = FlakyFunction(clock, failures=10**9)
    deliverer = Deliverer(Invocations(function), clock=clock, store=store, max_waiting_retry=2)
    await _first_attempts_fail(deliverer, clock, 3)
    assert deliverer.stats.waiting_retry == 2
    [letter] = store.list()
    assert (letter.event_id, letter.reason) == ("e2", "RetryQueueFull")
    await deliverer.close()


class RecordingStore(MemoryEventStore):
    """The memory store, noting each failed attempt it is told about."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts: list[tuple[str, int]] = []

    def attempted(self, delivery: Delivery) -> None:
        self.attempts.append((delivery.key, delivery.attempts))


class Ceiling(random.Random):
    """Jitter drawn at its upper bound, so a delay is exactly ``min(cap, base * 2**(n-1))``."""

    def uniform(self, a: float, b: float) -> float:
        return b


async def test_a_dead_letter_keeps_everything_about_the_delivery_and_the_log_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    store = RecordingStore()
    function = FlakyFunction(clock, failures=100)
    deliverer = Deliverer(
        Invocations(function), clock=clock, store=store, backoff=Backoff(base=2.0), rng=Ceiling()
    )
    doomed = delivery(clock, RetryPolicy(maximum_retry_attempts=2))
    deliverer.admit(1)
    with caplog.at_level("INFO", logger="pizzabus.delivery"):
        deliverer.submit([doomed])
        await run_until_idle(deliverer, clock, step=1000.0)
    [letter] = store.list()
    assert (letter.event_id, letter.bus, letter.rule, letter.target, letter.payload) == (
        "e1",
        "lab_event_bus",
        "r",
        "cook_pizza",
        b"{}",
    )
    assert (letter.attempts, letter.reason) == (3, "MaximumRetryAttemptsExceeded")
    assert (letter.error_type, letter.error_message) == ("PizzaBurnt", "too hot")
    assert letter.at == 1_700_000_006.0  # the clock started at 1_700_000_000: 6 s later
    assert function.calls == [0.0, 2.0, 6.0]  # delays 2 s then 4 s
    assert store.attempts == [(doomed.key, 1), (doomed.key, 2), (doomed.key, 3)]
    assert (deliverer.stats.failed_attempts, deliverer.stats.dead_lettered) == (3, 1)
    assert [r.getMessage() for r in caplog.records] == [
        "r → cook_pizza: attempt 1 of 3 failed (PizzaBurnt: too hot); retrying in 2.00 s",
        "r → cook_pizza: attempt 2 of 3 failed (PizzaBurnt: too hot); retrying in 4.00 s",
        "r → cook_pizza: event e1 dead-lettered after 3 attempt(s) "
        "(MaximumRetryAttemptsExceeded): PizzaBurnt: too hot; see `pizzabus dlq list`",
    ]


@pytest.mark.parametrize(
    ("age", "attempts"),
    [
        pytest.param(60, 2, id="retry-exactly-at-the-maximum-age"),
        pytest.param(61, 2, id="retry-inside-the-maximum-age"),
    ],
)
async def test_a_retry_that_would_start_exactly_at_the_maximum_age_still_runs(
    age: int, attempts: int
) -> None:
    clock = ManualClock()
    store = MemoryEventStore()
    function = FlakyFunction(clock, failures=100)
    # The first retry waits 60 s; the second would wait 120 s more, past any age here.
    deliverer = Deliverer(
        Invocations(function), clock=clock, store=store, backoff=Backoff(base=60.0), rng=Ceiling()
    )
    policy = RetryPolicy(maximum_retry_attempts=185, maximum_event_age=timedelta(seconds=age))
    deliverer.admit(1)
    deliverer.submit([delivery(clock, policy)])
    await run_until_idle(deliverer, clock, step=1000.0)
    [letter] = store.list()
    assert letter.reason == "MaximumEventAgeExceeded"
    assert function.calls == [0.0, 60.0][:attempts]
    assert letter.attempts == attempts


async def test_a_waiting_retry_describes_itself_and_the_counters_add_up() -> None:
    clock = ManualClock()
    store = MemoryEventStore()
    function = FlakyFunction(clock, failures=1)
    deliverer = Deliverer(
        Invocations(function), clock=clock, store=store, backoff=Backoff(base=2.0), rng=Ceiling()
    )
    deliverer.admit(1)
    deliverer.submit([delivery(clock, RetryPolicy())])
    for _ in range(20):
        await asyncio.sleep(0)

    [waiting] = deliverer.waiting()
    assert waiting.describe() == {
        "id": "r-1",
        "event_id": "e1",
        "rule": "r",
        "target": "cook_pizza",
        "attempts": 1,
        "next_attempt_at": 1_700_000_002.0,
        "error_type": "PizzaBurnt",
        "error_message": "too hot",
    }
    assert deliverer.stats == DeliveryStats(
        submitted=1, failed_attempts=1, in_flight=1, waiting_retry=1
    )

    await run_until_idle(deliverer, clock)
    assert deliverer.stats == DeliveryStats(
        submitted=1, succeeded=1, failed_attempts=1, by_target={"cook_pizza": 1}
    )
    assert function.calls == [0.0, 2.0]
    assert store.pending() == []
    assert store.list() == []


class Told(NullRecorder):
    """Telemetry that keeps what the deliverer tells it."""

    def __init__(self) -> None:
        self.told: list[tuple[Any, ...]] = []

    def delivered(self, rule: str, target: str) -> None:
        self.told.append(("delivered", rule, target))

    def retrying(self, *args: Any) -> None:
        self.told.append(("retrying", *args))

    def dead_lettered(self, *args: Any) -> None:
        self.told.append(("dead_lettered", *args))


async def test_telemetry_is_told_each_retry_and_dead_letter_with_its_error_and_stack() -> None:
    clock = ManualClock()
    store = MemoryEventStore()
    telemetry = Told()
    error = FunctionError("PizzaBurnt", "too hot", ["at oven.py:3"])

    async def failing(name: str, payload: bytes) -> None:
        raise error

    deliverer = Deliverer(
        Invocations(failing),
        clock=clock,
        store=store,
        backoff=Backoff(base=2.0),
        rng=Ceiling(),
        telemetry=telemetry,
    )
    doomed = delivery(clock, RetryPolicy(maximum_retry_attempts=1))
    doomed.trace = ("t" * 32, "s" * 16)  # type: ignore[assignment]
    deliverer.admit(1)
    deliverer.submit([doomed])
    await run_until_idle(deliverer, clock)

    assert telemetry.told == [
        ("retrying", "r", "cook_pizza", doomed.trace, 1, error, 2.0),
        (
            "dead_lettered",
            "r",
            "cook_pizza",
            doomed.trace,
            2,
            "MaximumRetryAttemptsExceeded",
            error,
        ),
    ]
    [letter] = store.list()
    assert letter.stack_trace == ("at oven.py:3",)


async def test_cancelling_retries_counts_each_dead_letter_once_even_when_named_twice() -> None:
    clock = ManualClock()
    store = MemoryEventStore()
    deliverer = Deliverer(
        Invocations(FlakyFunction(clock, failures=10**9)), clock=clock, store=store
    )
    await _first_attempts_fail(deliverer, clock, 3)
    first, second, third = deliverer.waiting()

    with pytest.raises(KeyError) as unknown:
        deliverer.cancel_retries(["r-x", first.id, "r-y"])
    assert unknown.value.args == ("r-x, r-y",)
    assert deliverer.cancel_retries([first.id, first.id, second.id]) == [
        first.id,
        first.id,
        second.id,
    ]
    assert [w.id for w in deliverer.waiting()] == [third.id]
    await deliverer.close()

    assert sorted(d.event_id for d in store.list()) == sorted(
        [first.delivery.event_id, second.delivery.event_id]
    )
    assert deliverer.stats.dead_lettered == 2


def test_a_waiting_retry_without_an_error_describes_it_as_empty() -> None:
    clock = ManualClock()
    parked = WaitingRetry("r-9", delivery(clock, RetryPolicy()), due=5.0)

    described = parked.describe()

    assert (described["error_type"], described["error_message"]) == ("", "")
