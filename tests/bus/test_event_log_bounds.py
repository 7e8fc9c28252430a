"""The SQLite event log keeps its write-ahead log bounded and gives retired pages back."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pizzabus.bus import sqlite_store
from pizzabus.bus.delivery import Delivery
from pizzabus.bus.sqlite_store import SqliteEventStore
from pizzabus.bus.store import StoredEvent
from pizzabus.system import Target

MIB = 1024 * 1024
TARGET = Target("cook_pizza")
PAYLOAD = b'{"detail": "' + b"x" * 2000 + b'"}'


def _event(n: int, time: float) -> StoredEvent:
    return StoredEvent(f"e{n}", "lab_event_bus", time, PAYLOAD, archived=True)


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqliteEventStore]:
    # Scaled down 8 times (8 MB -> 1 MB), so a few thousand events cross the threshold.
    monkeypatch.setattr(sqlite_store, "WAL_CHECKPOINT_BYTES", MIB)
    made = SqliteEventStore(tmp_path / "events.sqlite3", lambda bus, rule, index: TARGET)
    yield made
    made.close()


def test_the_log_stays_bounded_while_a_reader_keeps_reading_the_archive(
    log: SqliteEventStore,
) -> None:
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            log.archived("lab_event_bus", 0, 50)

    reader = threading.Thread(target=read)
    reader.start()
    largest = 0
    try:
        for start in range(0, 4000, 20):
            events = [_event(n, float(n)) for n in range(start, start + 20)]
            deliveries = [Delivery(e.id, e.bus, "r", TARGET, PAYLOAD, e.time) for e in events]
            log.record(events, deliveries).result()
            for delivery in deliveries:
                log.delivered(delivery)
            largest = max(largest, log.wal_size())
    finally:
        stop.set()
        reader.join()
    # 4,000 events of 2 KB and their deliveries: about 25 MB of frames went through the log.
    assert largest < 8 * MIB


def test_a_reader_holding_the_log_delays_the_reset_only_until_it_lets_go(
    log: SqliteEventStore,
) -> None:
    holder = sqlite3.connect(log.path, isolation_level=None)
    holder.execute("BEGIN")
    holder.execute("SELECT count(*) FROM events").fetchone()
    for start in range(0, 1500, 20):
        log.record([_event(n, float(n)) for n in range(start, start + 20)], []).result()
    held = log.wal_size()
    holder.execute("COMMIT")
    holder.close()
    for n in range(sqlite_store.RETRY_AFTER_COMMITS + 1):
        log.record([_event(10_000 + n, 1.0)], []).result()
    assert held > MIB
    assert log.wal_size() < MIB
    assert log.truncations > 0


def test_expiring_the_archive_deletes_and_hands_the_pages_back(log: SqliteEventStore) -> None:
    for start in range(0, 3000, 100):
        log.record([_event(n, float(n)) for n in range(start, start + 100)], []).result()
    full = _pages(log)
    assert log.expire("lab_event_bus", archived_before=2900.0) == 2900
    log.flush()  # the vacuum runs in steps after commits
    assert [e.id for e in log.archived("lab_event_bus", 0, 10_000)][:1] == ["e2900"]
    assert _pages(log) < full / 5


def _pages(log: SqliteEventStore) -> int:
    connection = sqlite3.connect(log.path)
    try:
        (count,) = connection.execute("PRAGMA page_count").fetchone()
        return int(count)
    finally:
        connection.close()
