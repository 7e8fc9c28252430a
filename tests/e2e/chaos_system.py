"""The lab's system plus a rule whose function raises, exits or hangs, by pizza."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from pizzabus.pizza.system import SYSTEM as LAB
from pizzabus.system import Function, RetryPolicy, Rule, Target

CHAOS_RULE = Rule(
    name="chaos_rule",
    event_pattern={
        "detail": {"item": {"pizza": ["raise", "exit", "hang"], "eventtype": ["make_pizza"]}}
    },
    targets=(Target("chaos", retry_policy=RetryPolicy(maximum_retry_attempts=0)),),
)

CHAOS = Function(
    name="chaos",
    code_dir=Path(__file__).parent / "chaos_functions",
    handler="chaos.lambda_handler",
    timeout=timedelta(seconds=1),
)

bus = LAB.buses[0]
SYSTEM = dataclasses.replace(
    LAB,
    buses=(dataclasses.replace(bus, rules=(*bus.rules, CHAOS_RULE)),),
    functions=(*LAB.functions, CHAOS),
)
