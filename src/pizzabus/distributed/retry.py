"""EventBridge's retry policy over JetStream redeliveries (pure: no I/O, no clock of its own).

JetStream's consumer ``backoff`` list is not EventBridge's policy (it applies to ack timeouts
only and repeats its last value), so the worker computes each delay itself and applies it with
``nak(delay=…)``. There is one retry counter, the server's ``num_delivered``: a worker that
crashes mid-invocation never makes an event run more often than the policy allows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pizzabus.bus.delivery import Backoff
from pizzabus.system import RetryPolicy


@dataclass(frozen=True)
class RetryIn:
    """Try again after ``delay`` seconds."""

    delay: float


@dataclass(frozen=True)
class GiveUp:
    """Dead-letter the delivery: ``reason`` is EventBridge's."""

    reason: str


Decision = RetryIn | GiveUp

MAXIMUM_RETRY_ATTEMPTS_EXCEEDED = "MaximumRetryAttemptsExceeded"
MAXIMUM_EVENT_AGE_EXCEEDED = "MaximumEventAgeExceeded"


def attempts_exhausted(attempt: int, policy: RetryPolicy) -> bool:
    """Whether attempt number ``attempt`` (1-based, the server's ``num_delivered``) is past the
    policy's budget before it even runs (a worker died while running the last one)."""
    return attempt > policy.maximum_retry_attempts + 1


def after_failure(
    attempt: int,
    policy: RetryPolicy,
    *,
    published_at: float,
    now: float,
    backoff: Backoff,
    rng: random.Random,
) -> Decision:
    """What to do after attempt number ``attempt`` failed."""
    if attempt > policy.maximum_retry_attempts:
        return GiveUp(MAXIMUM_RETRY_ATTEMPTS_EXCEEDED)
    delay = backoff.delay(attempt, rng)
    if now + delay - published_at > policy.maximum_event_age.total_seconds():
        return GiveUp(MAXIMUM_EVENT_AGE_EXCEEDED)
    return RetryIn(delay)
