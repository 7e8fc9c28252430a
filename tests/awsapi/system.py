"""The lab's system plus ``noisy``: a function that logs and fails on request, the target of a
rule without retries (so its failures are dead-lettered at once)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from pizzabus.pizza.system import SYSTEM as LAB
from pizzabus.system import Function, RetryPolicy, Rule, Target

NOISY_RULE = Rule(
    name="noisy_rule",
    event_pattern={"detail": {"item": {"pizza": ["raise"], "eventtype": ["make_pizza"]}}},
    targets=(Target("noisy", retry_policy=RetryPolicy(maximum_retry_attempts=0)),),
)

NOISY = Function(
    name="noisy",
    code_dir=Path(__file__).parent / "noisy_functions",
    handler="noisy.lambda_handler",
    timeout=timedelta(seconds=5),
    description="logs, and fails on request",
)

bus = LAB.buses[0]
SYSTEM = dataclasses.replace(
    LAB,
    buses=(dataclasses.replace(bus, rules=(*bus.rules, NOISY_RULE)),),
    functions=(*LAB.functions, NOISY),
)
