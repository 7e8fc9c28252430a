"""What the boto3-shaped clients need from the runtime they run on (the backend seam)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pizzabus.contracts.connections import ConnectionDirectory
from pizzabus.contracts.identity import RuntimeIdentity
from pizzabus.tables.store import TableStore
from pizzabus.telemetry import Recorder

#: API Gateway's management API of one WebSocket API (the seam of pushes).
ConnectionManager = ConnectionDirectory


class Platform(Protocol):
    """The services a handler reaches through boto3: events, tables, WebSocket connections."""

    identity: RuntimeIdentity
    tables: TableStore

    @property
    def telemetry(self) -> Recorder:
        """Hears of each push (a span in the caller's trace, a counted message)."""

    def put_events(self, entries: Sequence[Any]) -> dict[str, Any]:
        """PutEvents across the system's buses (entries name their bus)."""

    def connection_manager(self, endpoint_url: str | None) -> ConnectionManager:
        """The management API at ``endpoint_url`` (raises when no WebSocket API has it)."""
