"""The Publisher seam: PutEvents, whatever bus accepts the events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Publisher(Protocol):
    """Accepts PutEvents requests: refuses a malformed request whole (``ValidationError``),
    otherwise answers one result per entry, in order, as EventBridge does. An entry answered
    with an ``EventId`` is stored (it survives what the runtime promises it survives)."""

    async def put_events_async(self, entries: object) -> dict[str, Any]:
        """PutEvents on the event loop (the HTTP API)."""

    def put_events(self, entries: Sequence[Any]) -> dict[str, Any]:
        """PutEvents from a handler's thread."""
