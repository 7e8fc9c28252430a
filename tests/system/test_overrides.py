"""``serve --max-retry-attempts / --max-event-age``: one retry policy on every target."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pizzabus.errors import DefinitionError
from pizzabus.pizza.system import SYSTEM
from pizzabus.system import RetryPolicy, SystemDefinition
from pizzabus.system.overrides import (
    describe_retry_policies,
    parse_duration,
    uses_default_retry_policy,
    with_retry_policy,
)


def _policies(definition: SystemDefinition) -> set[RetryPolicy]:
    return {t.retry_policy for b in definition.buses for r in b.rules for t in r.targets}


def test_every_target_gets_the_given_retry_policy() -> None:
    changed = with_retry_policy(
        SYSTEM, maximum_retry_attempts=2, maximum_event_age=timedelta(seconds=60)
    )
    assert _policies(changed) == {RetryPolicy(2, timedelta(seconds=60))}
    assert changed.functions == SYSTEM.functions


def test_a_value_not_given_keeps_each_targets_own() -> None:
    changed = with_retry_policy(SYSTEM, maximum_retry_attempts=0)
    assert _policies(changed) == {RetryPolicy(0, timedelta(hours=24))}


def test_nothing_given_changes_nothing() -> None:
    assert with_retry_policy(SYSTEM) is SYSTEM


def test_an_age_eventbridge_would_refuse_is_refused() -> None:
    with pytest.raises(DefinitionError, match="between 60 and 86400 seconds, got 10"):
        with_retry_policy(SYSTEM, maximum_event_age=timedelta(seconds=10))


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("60s", 60), ("5m", 300), ("1.5h", 5400), ("2 min", 120)]
)
def test_durations_read_as_people_write_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_a_duration_that_is_not_one_says_what_to_give() -> None:
    with pytest.raises(DefinitionError, match="give seconds"):
        parse_duration("soon")


def test_the_banner_line_says_how_long_a_failure_is_retried() -> None:
    assert describe_retry_policies(SYSTEM) == "185 retries within 24 h, then the dead-letter queue"
    assert uses_default_retry_policy(SYSTEM)
    short = with_retry_policy(
        SYSTEM, maximum_retry_attempts=2, maximum_event_age=timedelta(seconds=90)
    )
    assert describe_retry_policies(short) == "2 retries within 90 s, then the dead-letter queue"
    assert not uses_default_retry_policy(short)
