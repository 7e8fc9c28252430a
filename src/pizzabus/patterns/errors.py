"""The pattern engine's errors, each carrying the code AWS answers with."""

from __future__ import annotations

from pizzabus.errors import PizzabusError, ValidationError

#: What every ``InvalidEventPatternException`` message starts with.
REASON_PREFIX = "Event pattern is not valid. Reason: "


class InvalidEventPattern(PizzabusError):
    """An event pattern that AWS would reject; the message is AWS's own first line."""

    code = "InvalidEventPatternException"
    status = 400

    @classmethod
    def because(cls, reason: str) -> InvalidEventPattern:
        """The error for ``reason``, worded exactly as AWS words it."""
        return cls(REASON_PREFIX + reason)

    @property
    def reason(self) -> str:
        """The part after ``Reason: ``."""
        return self.message.removeprefix(REASON_PREFIX)


class InvalidEvent(ValidationError):
    """An event that ``TestEventPattern`` refuses (not an object, or envelope fields missing)."""

    def __init__(self, message: str = "Parameter Event is not valid.") -> None:
        super().__init__(message)
