"""Dead letters: deliveries that ran out of attempts or age, kept with their last error."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeadLetter:
    """A delivery that did not succeed, as the dead-letter queue keeps it."""

    event_id: str
    bus: str
    rule: str
    target: str
    payload: bytes
    attempts: int
    reason: str
    error_type: str
    error_message: str
    at: float
    id: str = ""
    #: The handler's stack when it failed, as Lambda reports it (``stackTrace``).
    stack_trace: tuple[str, ...] = ()
