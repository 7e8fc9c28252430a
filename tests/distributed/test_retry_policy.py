"""EventBridge's retry policy over JetStream redeliveries: pure decisions, no broker, no clock."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from pizzabus.bus.delivery import Backoff
from pizzabus.distributed.retry import (
    MAXIMUM_EVENT_AGE_EXCEEDED,
    MAXIMUM_RETRY_ATTEMPTS_EXCEEDED,
    GiveUp,
    RetryIn,
    after_failure,
    attempts_exhausted,
)
from pizzabus.distributed.subjects import Names, connection_id, gateway_of, new_gateway_tag, token
from pizzabus.system import RetryPolicy

BACKOFF = Backoff(base=0.2, cap=300.0)


def _decide(attempt: int, policy: RetryPolicy, age: float = 0.0) -> object:
    return after_failure(
        attempt,
        policy,
        published_at=1000.0,
        now=1000.0 + age,
        backoff=BACKOFF,
        rng=random.Random(7),
    )


def test_the_default_policy_retries_185_times_then_dead_letters() -> None:
    policy = RetryPolicy()
    assert isinstance(_decide(185, policy), RetryIn)
    assert _decide(186, policy) == GiveUp(MAXIMUM_RETRY_ATTEMPTS_EXCEEDED)


@pytest.mark.parametrize("attempt", [1, 2, 5, 10, 40])
def test_each_delay_is_the_backoff_with_equal_jitter_for_its_attempt(attempt: int) -> None:
    decision = _decide(attempt, RetryPolicy())
    assert isinstance(decision, RetryIn)
    low, high = BACKOFF.bounds(attempt)
    assert low <= decision.delay <= high


def test_the_185_delays_of_the_default_policy_span_hours_within_the_days_event_age() -> None:
    # As on the embedded bus: retries capped at 5 min run out of attempts (~11 h) before
    # the 24 h event age.
    rng = random.Random(1)
    total = sum(BACKOFF.delay(attempt, rng) for attempt in range(1, 186))
    assert 6 * 3600 < total < 24 * 3600


def test_a_retry_that_would_come_after_the_maximum_event_age_dead_letters_instead() -> None:
    policy = RetryPolicy(maximum_event_age=timedelta(seconds=60))
    assert isinstance(_decide(1, policy, age=10), RetryIn)
    assert _decide(1, policy, age=60) == GiveUp(MAXIMUM_EVENT_AGE_EXCEEDED)


def test_no_retries_means_the_first_failure_dead_letters() -> None:
    assert _decide(1, RetryPolicy(maximum_retry_attempts=0)) == GiveUp(
        MAXIMUM_RETRY_ATTEMPTS_EXCEEDED
    )


def test_a_delivery_whose_last_attempt_died_with_its_worker_is_exhausted_on_arrival() -> None:
    policy = RetryPolicy(maximum_retry_attempts=2)
    assert not attempts_exhausted(3, policy)  # the third attempt may run
    assert attempts_exhausted(4, policy)  # the server counted a fourth: the third died


def test_a_connection_id_names_its_gateway_and_looks_like_api_gateways() -> None:
    tag = new_gateway_tag()
    ids = {connection_id(tag) for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 16 and i.endswith("=") for i in ids)
    assert {gateway_of(i) for i in ids} == {tag}


@pytest.mark.parametrize("foreign", ["", "not base64!", "L0SM9cOFvHcCIhw", "YWJj"])
def test_an_id_that_is_not_ours_names_no_gateway(foreign: str) -> None:
    assert gateway_of(foreign) is None


def test_names_on_the_broker_are_valid_subject_tokens() -> None:
    names = Names()
    assert token("lab.event bus>*") == "lab_event_bus__"
    assert names.delivery_subject("make_pizza") == "pizzabus.deliver.make_pizza"
    assert names.event_subject("a.b") == "pizzabus.events.a_b"


def test_a_frame_repeated_byte_for_byte_soon_after_is_sent_once() -> None:
    from pizzabus.distributed.pushes import RECENT_SECONDS, RecentFrames

    now = [0.0]
    recent = RecentFrames(clock=lambda: now[0])
    assert not recent.seen("c1", b"cook_pizza")
    assert recent.seen("c1", b"cook_pizza")  # the retried push of a worker that died
    assert not recent.seen("c2", b"cook_pizza")  # another socket gets its own copy
    assert not recent.seen("c1", b"deliver_pizza")
    now[0] += RECENT_SECONDS + 1
    assert not recent.seen("c1", b"cook_pizza")  # long after, it is a new message
