"""The records the bus passes between its parts: a delivery on its way to a target."""

from __future__ import annotations

from dataclasses import dataclass

from pizzabus.functions.errors import FunctionError
from pizzabus.system import Target
from pizzabus.telemetry import traceid


@dataclass
class Delivery:
    """One matched event on its way to one target."""

    event_id: str
    bus: str
    rule: str
    target: Target
    payload: bytes
    published_at: float
    attempts: int = 0
    last_error: FunctionError | None = None
    #: Which of the rule's targets (a rule may target one function twice).
    index: int = 0
    #: The replay this delivery belongs to, if it is one.
    replay_name: str | None = None
    #: Where in its trace the rule's match is (the invocation's parent), if traced.
    trace: traceid.Position | None = None

    @property
    def key(self) -> str:
        """Identifies the delivery in the event store."""
        return f"{self.event_id}/{self.replay_name or ''}/{self.rule}/{self.index}"
