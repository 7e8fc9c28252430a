"""The lab's system whose three stage handlers each do ~5 ms of pure-Python work first."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pizzabus.pizza.system import SYSTEM as LAB

SLOW = Path(__file__).parent / "slow_functions"
STAGES = {"make_pizza", "cook_pizza", "deliver_pizza"}

SYSTEM = dataclasses.replace(
    LAB,
    functions=tuple(
        dataclasses.replace(f, code_dir=SLOW) if f.name in STAGES else f for f in LAB.functions
    ),
)
