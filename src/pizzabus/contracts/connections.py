"""The ConnectionDirectory seam: API Gateway's management API over the WebSocket connections,
wherever the socket is held (this process, or another gateway)."""

from __future__ import annotations

from typing import Any, Protocol


class ConnectionDirectory(Protocol):
    """PostToConnection, GetConnection and DeleteConnection of one WebSocket API.

    Raises ``Gone`` (410) for a connection that closed, never existed, or whose gateway is
    gone; ``PayloadTooLarge`` (413) past ``max_message_bytes``.
    """

    api_name: str
    max_message_bytes: int

    def post(self, connection_id: str, data: bytes) -> None:
        """Send ``data`` to the connection."""

    def get(self, connection_id: str) -> dict[str, Any]:
        """``ConnectedAt``, ``Identity`` and ``LastActiveAt`` of the connection."""

    def delete(self, connection_id: str) -> None:
        """Close the connection."""
