"""Fault injection: make a function fail or time out on a fraction of its invocations, or make
pushes to connections fail with 410. An injected fault takes exactly the path of a real one
(the invocation fails, the bus retries, finally dead-letters), so demos and tests can show it.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pizzabus.errors import ValidationError


@dataclass(frozen=True)
class FunctionFault:
    """What to do to one function's invocations (rates are fractions, 0 to 1)."""

    error_rate: float = 0.0
    timeout_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("error_rate", "timeout_rate"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValidationError(f"{name} must be a number from 0 to 1, got {value!r}")


@dataclass(frozen=True)
class FaultPlan:
    """All injected faults: per function, and for pushes to WebSocket connections."""

    functions: Mapping[str, FunctionFault] = field(default_factory=dict)
    #: Fraction of post_to_connection calls answered with GoneException (410).
    gone_rate: float = 0.0

    @classmethod
    def parse(cls, document: Any, known_functions: set[str] | None = None) -> FaultPlan:
        """A plan from its JSON form; raises ``ValidationError`` saying what is wrong."""
        if not isinstance(document, Mapping):
            raise ValidationError(
                'A fault plan is a JSON object like {"functions": {"cook_pizza": '
                '{"error_rate": 0.3}}, "gone_rate": 0}'
            )
        unknown = set(document) - {"functions", "gone_rate"}
        if unknown:
            raise ValidationError(
                f"Unknown key(s) in the fault plan: {', '.join(sorted(unknown))}; "
                "use 'functions' and 'gone_rate'"
            )
        functions: dict[str, FunctionFault] = {}
        specs = document.get("functions") or {}
        if not isinstance(specs, Mapping):
            raise ValidationError(
                'functions must be an object naming each function\'s fault, like {"cook_pizza": '
                '{"error_rate": 0.3}}'
            )
        for name, spec in specs.items():
            if known_functions is not None and name not in known_functions:
                have = ", ".join(sorted(known_functions))
                raise ValidationError(f"No function named {name!r}; the system has {have}")
            if not isinstance(spec, Mapping) or set(spec) - {"error_rate", "timeout_rate"}:
                raise ValidationError(
                    f"The fault of {name!r} must be an object with error_rate and/or timeout_rate"
                )
            functions[name] = FunctionFault(**spec)
        gone = document.get("gone_rate", 0.0)
        if not isinstance(gone, int | float) or not 0 <= gone <= 1:
            raise ValidationError(f"gone_rate must be a number from 0 to 1, got {gone!r}")
        return cls(functions=functions, gone_rate=float(gone))

    @classmethod
    def load(cls, path: Path, known_functions: set[str] | None = None) -> FaultPlan:
        try:
            document = json.loads(path.read_text())
        except OSError as error:
            raise ValidationError(f"Cannot read the fault plan {path}: {error.strerror}") from error
        except ValueError as error:
            raise ValidationError(f"The fault plan {path} is not valid JSON: {error}") from error
        return cls.parse(document, known_functions)

    def to_json(self) -> dict[str, Any]:
        return {
            "functions": {name: asdict(fault) for name, fault in self.functions.items()},
            "gone_rate": self.gone_rate,
        }


class FaultInjector:
    """Draws, per invocation or push, whether the current plan injects a fault."""

    def __init__(self, plan: FaultPlan | None = None, rng: random.Random | None = None) -> None:
        self.plan = plan or FaultPlan()
        self._rng = rng or random.Random()
        self._lock = threading.Lock()

    def _draw(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def names(self, function: str) -> bool:
        """Whether the current plan injects faults into ``function`` at all."""
        return function in self.plan.functions

    def invocation(self, function: str) -> str | None:
        """``"error"``, ``"timeout"`` or None for the next invocation of ``function``."""
        fault = self.plan.functions.get(function)
        if fault is None:
            return None
        if self._draw(fault.error_rate):
            return "error"
        if self._draw(fault.timeout_rate):
            return "timeout"
        return None

    def push_gone(self) -> bool:
        return self._draw(self.plan.gone_rate)
