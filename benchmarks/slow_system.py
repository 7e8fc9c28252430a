"""The lab's system whose three stage handlers each compute ~5 ms first (``STAGE_WORK_MS``, which
the lab's ``pipeline.py`` reads): a handler that needs the CPU, to show how orders/s scale with
worker processes."""

from __future__ import annotations

import dataclasses

from pizzabus.pizza.system import SYSTEM as LAB

#: Milliseconds of CPU each stage spends before it advances the order.
WORK_MS = "5"
STAGES = {"make_pizza", "cook_pizza", "deliver_pizza"}

SYSTEM = dataclasses.replace(
    LAB,
    functions=tuple(
        dataclasses.replace(f, environment={**f.environment, "STAGE_WORK_MS": WORK_MS})
        if f.name in STAGES
        else f
        for f in LAB.functions
    ),
)
