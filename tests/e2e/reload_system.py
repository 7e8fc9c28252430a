"""The lab's system with its handlers in a folder a test may edit (``PIZZABUS_TEST_CODE_DIR``)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from pizzabus.pizza.system import SYSTEM as LAB

CODE_DIR = Path(os.environ["PIZZABUS_TEST_CODE_DIR"])

SYSTEM = dataclasses.replace(
    LAB, functions=tuple(dataclasses.replace(f, code_dir=CODE_DIR) for f in LAB.functions)
)
