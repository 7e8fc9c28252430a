"""What the AWS APIs need of a running system: its parts, behind small Protocols."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pizzabus.bus.deadletters import DeadLetter
from pizzabus.clock import Clock
from pizzabus.contracts.operations import Answer
from pizzabus.functions.logs import InvocationLog
from pizzabus.functions.runtime import RuntimeIdentity
from pizzabus.system import EventBus, Function
from pizzabus.tables.store import TableStore


class Publisher(Protocol):
    """The bus's PutEvents pipeline (validate, envelope, match, store, deliver)."""

    async def put_events_async(self, entries: object) -> dict[str, Any]: ...


class ReplayOperations(Protocol):
    """The running system's replays (the admin API's :class:`~pizzabus.contracts.Operations`
    have them; a cluster's answers are awaitables)."""

    def replays(self) -> Answer[list[dict[str, Any]]]: ...

    def replay(self, name: str) -> Answer[dict[str, Any]]: ...

    def start_replay(self, request: dict[str, Any]) -> Answer[dict[str, Any]]: ...

    def cancel_replay(self, name: str) -> Answer[dict[str, Any]]: ...


class DeadLetters(Protocol):
    """The dead-letter store (what ``pizzabus dlq`` reads)."""

    def list(self) -> list[DeadLetter]: ...

    def get(self, letter_id: str) -> DeadLetter | None: ...

    def remove(self, letter_id: str) -> bool: ...


class Receipts(Protocol):
    """Which dead letters a receive holds, and until when (SQS's visibility timeout)."""

    def hidden_until(self, letter_id: str) -> float:
        """When the message becomes visible again (0 when it is visible)."""

    def claim(self, letter_id: str, now: float, until: float) -> int | None:
        """Hide the message until ``until`` if it is visible at ``now``: its receive count
        then, or None when a receive holds it (atomic: one claimant wins)."""

    def forget(self, letter_id: str) -> None:
        """The message is deleted."""


class MemoryReceipts:
    """:class:`Receipts` of one process (receives run on worker threads, hence the lock)."""

    def __init__(self) -> None:
        self._hidden: dict[str, float] = {}
        self._receives: dict[str, int] = {}
        self._lock = threading.Lock()

    def hidden_until(self, letter_id: str) -> float:
        return self._hidden.get(letter_id, 0.0)

    def claim(self, letter_id: str, now: float, until: float) -> int | None:
        with self._lock:
            if self._hidden.get(letter_id, 0.0) > now:
                return None
            self._hidden[letter_id] = until
            self._receives[letter_id] = self._receives.get(letter_id, 0) + 1
            return self._receives[letter_id]

    def forget(self, letter_id: str) -> None:
        with self._lock:
            self._hidden.pop(letter_id, None)
            self._receives.pop(letter_id, None)


class Invoke(Protocol):
    """The function runtime's invoke; ``log`` gets the lines the handler writes."""

    def __call__(
        self, name: str, payload: bytes, log: InvocationLog | None = None
    ) -> Awaitable[Any]: ...


@dataclass(frozen=True)
class Backends:
    """The parts of a running system the AWS APIs serve."""

    identity: RuntimeIdentity
    tables: TableStore
    table_names: Sequence[str]
    buses: Sequence[EventBus]
    publisher: Publisher
    replays: ReplayOperations
    functions: Sequence[Function]
    invoke: Invoke
    dead_letters: DeadLetters
    base_url: str
    clock: Clock
    #: Receive state of the dead-letter queues; None keeps it in this process.
    receipts: Receipts | None = None
