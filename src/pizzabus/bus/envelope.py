"""The EventBridge envelope every matched target receives."""

from __future__ import annotations

from typing import Any

from pizzabus.bus.putevents import ValidEntry
from pizzabus.clock import iso8601
from pizzabus.contracts.ids import uuid4


def envelope(
    entry: ValidEntry, *, account: str, region: str, now: float, event_id: str | None = None
) -> dict[str, Any]:
    """The event as EventBridge delivers it (``version "0"``, ``id``, ``detail-type``, …)."""
    return {
        "version": "0",
        "id": event_id or uuid4(),
        "detail-type": entry.detail_type,
        "source": entry.source,
        "account": account,
        "time": entry.time or iso8601(now),
        "region": region,
        "resources": list(entry.resources),
        "detail": entry.detail,
    }
