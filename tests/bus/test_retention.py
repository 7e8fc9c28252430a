"""What a long-running server keeps is bounded: the archive's retention and size limit, and the
tables' TTL, all swept on the injected clock."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from pizzabus.clock import ManualClock
from pizzabus.embedded import EmbeddedSystem, Settings
from pizzabus.pizza.system import SYSTEM, TIMELINE_TABLE

BUS = "lab_event_bus"
WEEK = timedelta(days=7).total_seconds()


def _entries(count: int, size: int = 1500) -> list[dict[str, str]]:
    detail = {"item": {"order_id": "o", "eventtype": "nothing_routes_this", "pad": "x" * size}}
    entry = {
        "Source": "soak",
        "DetailType": "eventtype",
        "Detail": json.dumps(detail),
        "EventBusName": BUS,
    }
    return [entry] * count


async def _running(settings: Settings, clock: ManualClock) -> AsyncIterator[EmbeddedSystem]:
    system = EmbeddedSystem(SYSTEM, settings, clock=clock)
    async with system.running():
        yield system


@pytest.fixture(params=["durable", "memory"])
def data_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path | None:
    return tmp_path / "data" if request.param == "durable" else None


async def test_archived_events_past_the_retention_are_deleted_by_the_sweep(
    data_dir: Path | None,
) -> None:
    clock = ManualClock()
    async for system in _running(Settings(data_dir=data_dir), clock):
        for _ in range(20):
            await system.router.put_events_async(_entries(10))
        await clock.advance(WEEK - 60)
        await system.router.put_events_async(_entries(10))  # a newer one, inside the week
        await clock.advance(120)
        await system.sweep()
        kept = system.store.archived(BUS, 0, clock.now() + 1)
        assert len(kept) == 10
        assert all(e.time >= clock.now() - WEEK for e in kept)


async def test_the_event_log_file_shrinks_once_the_retention_has_deleted(tmp_path: Path) -> None:
    clock = ManualClock()
    data = tmp_path / "data"
    async for system in _running(Settings(data_dir=data), clock):
        for _ in range(100):
            await system.router.put_events_async(_entries(10))
        full = _pages(data / "events.sqlite3")
        await clock.advance(WEEK + 60)
        await system.sweep()
        assert _pages(data / "events.sqlite3") < full / 4


async def test_max_archive_bytes_drops_the_oldest_archived_events_first(
    data_dir: Path | None,
) -> None:
    clock = ManualClock()
    limit = 512 * 1024
    settings = Settings(data_dir=data_dir, max_archive_bytes=limit)
    async for system in _running(settings, clock):
        for _ in range(150):  # about 2.5 MB of archived payloads, one second apart
            await system.router.put_events_async(_entries(10))
            await clock.advance(1)
        newest = system.store.archived(BUS, 0, clock.now() + 1)[-1]
        await system.sweep()
        kept = system.store.archived(BUS, 0, clock.now() + 1)
        assert 0 < len(kept) < 1500
        assert kept[-1] == newest
        # What was dropped is older than everything kept.
        assert kept[0].time > clock.now() - 150
        assert limit - 2000 < sum(len(e.payload) for e in kept) <= limit


async def test_expired_timeline_items_are_swept_on_the_injected_clock(
    data_dir: Path | None,
) -> None:
    clock = ManualClock()
    async for system in _running(Settings(data_dir=data_dir), clock):
        now = int(clock.now())
        for seq in range(50):
            system.tables.put_item(
                TIMELINE_TABLE, {"order_id": "o", "seq": seq, "expires_at": now + 3600 + seq}
            )
        await clock.advance(3600 + 24.5)
        await system.sweep()
        left = system.tables.query(
            TIMELINE_TABLE, key_condition="order_id = :o", values={":o": "o"}
        )
        assert [item["seq"] for item in left.items] == list(range(25, 50))


def _pages(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return int(connection.execute("PRAGMA page_count").fetchone()[0])
    finally:
        connection.close()
