"""Changing a definition for a local run without editing it: the same retry policy on every
target (``pizzabus serve --max-retry-attempts 2 --max-event-age 60s``), so a demo sees its
dead letters in seconds rather than after EventBridge's 24 hours."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

from pizzabus.errors import DefinitionError
from pizzabus.system.model import RetryPolicy, SystemDefinition

_UNITS = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h)?\s*$")


def parse_duration(text: str) -> timedelta:
    """``90``, ``90s``, ``5m``, ``1h`` → a :class:`timedelta`."""
    match = _DURATION.match(text)
    if match is None:
        raise DefinitionError(
            f"{text!r} is not a duration; give seconds (90 or 90s), minutes (5m) or hours (1h)"
        )
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2) or ""])


def with_retry_policy(
    definition: SystemDefinition,
    *,
    maximum_retry_attempts: int | None = None,
    maximum_event_age: timedelta | None = None,
) -> SystemDefinition:
    """``definition`` with every rule target's retry policy changed where a value is given
    (the other value of each target's policy is kept). Raises :class:`DefinitionError` for a
    value EventBridge would refuse (0–185 retries, 60 s–24 h)."""
    if maximum_retry_attempts is None and maximum_event_age is None:
        return definition

    def policy(old: RetryPolicy) -> RetryPolicy:
        return RetryPolicy(
            maximum_retry_attempts=old.maximum_retry_attempts
            if maximum_retry_attempts is None
            else maximum_retry_attempts,
            maximum_event_age=old.maximum_event_age
            if maximum_event_age is None
            else maximum_event_age,
        )

    buses = tuple(
        replace(
            bus,
            rules=tuple(
                replace(
                    rule,
                    targets=tuple(
                        replace(target, retry_policy=policy(target.retry_policy))
                        for target in rule.targets
                    ),
                )
                for rule in bus.rules
            ),
        )
        for bus in definition.buses
    )
    return replace(definition, buses=buses)


def describe_retry_policies(definition: SystemDefinition) -> str:
    """One line saying how long a failing delivery is retried before it is dead-lettered."""
    policies = {t.retry_policy for b in definition.buses for r in b.rules for t in r.targets}
    if not policies:
        return "no rule targets"
    if len(policies) > 1:
        return "each target's own policy (see the definition)"
    (only,) = policies
    return (
        f"{only.maximum_retry_attempts} retries within {_human(only.maximum_event_age)}, "
        "then the dead-letter queue"
    )


def uses_default_retry_policy(definition: SystemDefinition) -> bool:
    """Whether some target keeps EventBridge's default policy (a dead letter a day later)."""
    return any(
        t.retry_policy == RetryPolicy()
        for b in definition.buses
        for r in b.rules
        for t in r.targets
    )


def _human(age: timedelta) -> str:
    seconds = age.total_seconds()
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
