"""System definitions for end-to-end tests: the lab's, changed the way a test needs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pizzabus.pizza.system import SYSTEM as LAB
from pizzabus.system import (
    Function,
    Grant,
    HttpRoute,
    KeyAttribute,
    LambdaIntegration,
    RetryPolicy,
    Rule,
    SystemDefinition,
    Table,
    Target,
)

HERE = Path(__file__).parent


def _with_retries(system: SystemDefinition, policy: RetryPolicy) -> SystemDefinition:
    buses = tuple(
        dataclasses.replace(
            bus,
            rules=tuple(
                dataclasses.replace(
                    rule,
                    targets=tuple(
                        dataclasses.replace(t, retry_policy=policy) for t in rule.targets
                    ),
                )
                for rule in bus.rules
            ),
        )
        for bus in system.buses
    )
    return dataclasses.replace(system, buses=buses)


#: The lab, where a delivery gives up after two retries (so dead letters come quickly).
QUICK_DLQ = _with_retries(LAB, RetryPolicy(maximum_retry_attempts=2))

_AUDIT_TABLE = Table("audit", partition_key=KeyAttribute("kind"), sort_key=KeyAttribute("key"))
_AUDIT = Function(
    name="audit",
    code_dir=HERE / "audit_functions",
    handler="audit.lambda_handler",
    environment={"TABLENAME": "audit"},
    grants=(Grant("dynamodb:read", "audit"), Grant("dynamodb:write", "audit")),
)
_bus = LAB.buses[0]
assert LAB.http_api is not None

#: The lab plus an audit rule that records every event it is sent, readable at GET /audit.
AUDITED = dataclasses.replace(
    LAB,
    buses=(
        dataclasses.replace(
            _bus,
            rules=(
                *_bus.rules,
                Rule("audit_rule", {"source": [{"prefix": ""}]}, (Target("audit"),)),
            ),
        ),
    ),
    functions=(*LAB.functions, _AUDIT),
    tables=(*LAB.tables, _AUDIT_TABLE),
    http_api=dataclasses.replace(
        LAB.http_api,
        routes=(
            *LAB.http_api.routes,
            HttpRoute("GET", "/audit", LambdaIntegration("audit")),
        ),
    ),
)

#: The lab plus a rule whose pattern AWS would refuse.
INVALID_RULE = dataclasses.replace(
    LAB,
    buses=(
        dataclasses.replace(
            _bus,
            rules=(*_bus.rules, Rule("broken_rule", {"source": []}, (Target("make_pizza"),))),
        ),
    ),
)
