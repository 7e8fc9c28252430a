"""The lab's system plus a rule whose function kills its worker process once per order."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from pizzabus.pizza.system import SYSTEM as LAB
from pizzabus.system import Function, Rule, Target

CRASH_RULE = Rule(
    name="crash_rule",
    event_pattern={"detail": {"item": {"pizza": ["crash"], "eventtype": ["make_pizza"]}}},
    targets=(Target("crash"),),
)

CRASH = Function(
    name="crash",
    code_dir=Path(__file__).parent / "crash_functions",
    handler="crash.lambda_handler",
    timeout=timedelta(seconds=1),
)

bus = LAB.buses[0]
SYSTEM = dataclasses.replace(
    LAB,
    buses=(dataclasses.replace(bus, rules=(*bus.rules, CRASH_RULE)),),
    functions=(*LAB.functions, CRASH),
)
