"""The lab's system plus a rule whose function kills its worker process once per order, and an
HTTP route (``GET /exit``) whose function kills its worker process every time, with Lambda's
longest timeout: its caller must not wait that long."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from pizzabus.pizza.system import SYSTEM as LAB
from pizzabus.system import Function, HttpRoute, LambdaIntegration, Rule, Target

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

EXIT_NOW = Function(
    name="exit_now",
    code_dir=Path(__file__).parent / "crash_functions",
    handler="exit_now.lambda_handler",
    timeout=timedelta(seconds=900),
)
EXIT_ROUTE = HttpRoute(method="GET", path="/exit", integration=LambdaIntegration("exit_now"))

bus = LAB.buses[0]
assert LAB.http_api is not None
SYSTEM = dataclasses.replace(
    LAB,
    buses=(dataclasses.replace(bus, rules=(*bus.rules, CRASH_RULE)),),
    functions=(*LAB.functions, CRASH, EXIT_NOW),
    http_api=dataclasses.replace(LAB.http_api, routes=(*LAB.http_api.routes, EXIT_ROUTE)),
)
