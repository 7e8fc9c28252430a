"""Dead-letter queues: deliveries that ran out of attempts or age, kept with their last error."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Protocol


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


class DeadLetterQueue(Protocol):
    """Where failed deliveries wait for someone to look at them or redrive them."""

    def put(self, letter: DeadLetter) -> DeadLetter: ...

    def list(self) -> list[DeadLetter]: ...

    def get(self, letter_id: str) -> DeadLetter | None: ...

    def remove(self, letter_id: str) -> bool: ...


class MemoryDeadLetterQueue:
    """A dead-letter queue kept in memory (``--memory``)."""

    def __init__(self) -> None:
        self._letters: dict[str, DeadLetter] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def put(self, letter: DeadLetter) -> DeadLetter:
        with self._lock:
            stored = replace(letter, id=f"dl-{next(self._ids)}")
            self._letters[stored.id] = stored
            return stored

    def list(self) -> list[DeadLetter]:
        with self._lock:
            return list(self._letters.values())

    def get(self, letter_id: str) -> DeadLetter | None:
        return self._letters.get(letter_id)

    def remove(self, letter_id: str) -> bool:
        with self._lock:
            return self._letters.pop(letter_id, None) is not None

    def __iter__(self) -> Iterator[DeadLetter]:
        return iter(self.list())
