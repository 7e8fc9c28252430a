"""The admin API over a failed disk: writes say so with 503, reads keep answering."""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx
from starlette.applications import Starlette

from pizzabus.gateway.admin import admin_routes


class DiskFullOperations:
    """Operations whose every write fails as SQLite does on a full disk."""

    def stats(self) -> dict[str, Any]:
        return {"events_published": 3}

    def dead_letters(self) -> list[dict[str, Any]]:
        return []

    def dead_letter(self, letter_id: str) -> dict[str, Any]:
        return {}

    async def redrive(self, letter_ids: list[str] | None) -> dict[str, Any]:
        raise sqlite3.OperationalError("database or disk is full")

    def purge(self) -> dict[str, Any]:
        raise OSError(28, "No space left on device")

    def replays(self) -> list[dict[str, Any]]:
        return []

    def replay(self, name: str) -> dict[str, Any]:
        return {}

    def start_replay(self, request: dict[str, Any]) -> dict[str, Any]:
        return {}

    def cancel_replay(self, name: str) -> dict[str, Any]:
        return {}

    def faults(self) -> dict[str, Any]:
        return {}

    def set_faults(self, plan: Any) -> dict[str, Any]:
        return {}


async def test_a_failed_write_is_503_with_a_message_and_reads_still_answer() -> None:
    app = Starlette(routes=admin_routes(DiskFullOperations()))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for method, path in (("DELETE", "/_pizzabus/dlq"), ("POST", "/_pizzabus/dlq/redrive")):
            response = await client.request(method, path, json={"all": True})
            assert response.status_code == 503
            assert response.json()["code"] == "StorageUnavailable"
            assert "free the disk" in response.json()["message"]
        assert (await client.get("/_pizzabus/stats")).json() == {"events_published": 3}
        assert (await client.get("/_pizzabus/dlq")).status_code == 200
