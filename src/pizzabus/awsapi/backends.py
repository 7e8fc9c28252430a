"""What the AWS APIs need of a running system: its parts, behind small Protocols."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pizzabus.bus.deadletters import DeadLetter
from pizzabus.clock import Clock
from pizzabus.functions.logs import InvocationLog
from pizzabus.functions.runtime import RuntimeIdentity
from pizzabus.system import EventBus, Function
from pizzabus.tables.store import TableStore


class Publisher(Protocol):
    """The bus's PutEvents pipeline (validate, envelope, match, store, deliver)."""

    async def put_events_async(self, entries: object) -> dict[str, Any]: ...


class ReplayOperations(Protocol):
    """The running system's replays (``embedded.operations.Operations`` has them)."""

    def replays(self) -> list[dict[str, Any]]: ...

    def replay(self, name: str) -> dict[str, Any]: ...

    def start_replay(self, request: dict[str, Any]) -> dict[str, Any]: ...

    def cancel_replay(self, name: str) -> dict[str, Any]: ...


class DeadLetters(Protocol):
    """The dead-letter store (what ``pizzabus dlq`` reads)."""

    def list(self) -> list[DeadLetter]: ...

    def get(self, letter_id: str) -> DeadLetter | None: ...

    def remove(self, letter_id: str) -> bool: ...


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
