"""The SQLite table store keeps its write-ahead log bounded, and hands freed pages back."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pizzabus.system import KeyAttribute, Table
from pizzabus.tables import sqlite as sqlite_tables
from pizzabus.tables.sqlite import SqliteTableStore

MIB = 1024 * 1024
#: The store's thresholds, scaled down 8 times so a few thousand writes cross them.
CHECKPOINT_BYTES, LIMIT_BYTES = 1 * MIB, 4 * MIB
#: The issue's 64 MB at every moment, scaled down the same.
WAL_BOUND = 8 * MIB
ITEMS = Table(name="items", partition_key=KeyAttribute("id"), ttl_attribute="expires_at")
PADDING = "x" * 2000


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqliteTableStore]:
    monkeypatch.setattr(sqlite_tables, "WAL_CHECKPOINT_BYTES", CHECKPOINT_BYTES)
    monkeypatch.setattr(sqlite_tables, "WAL_LIMIT_BYTES", LIMIT_BYTES)
    made = SqliteTableStore(tmp_path / "tables.sqlite3")
    made.create_table(ITEMS)
    yield made
    made.close()


@pytest.fixture
def reader(store: SqliteTableStore) -> Iterator[threading.Event]:
    """Another connection reading the table over and over, as a second process would."""
    stop = threading.Event()

    def read() -> None:
        connection = sqlite3.connect(store.path, isolation_level=None, timeout=10)
        while not stop.is_set():
            connection.execute("SELECT count(*) FROM pb_items").fetchone()
        connection.close()

    thread = threading.Thread(target=read)
    thread.start()
    yield stop
    stop.set()
    thread.join()


def test_the_log_stays_bounded_through_many_writes_while_a_reader_is_active(
    store: SqliteTableStore, reader: threading.Event
) -> None:
    # 4,000 writes append about 40 MB of frames: the log must be reset as it goes.
    largest = 0
    for n in range(4000):
        store.put_item("items", {"id": f"i{n % 500}", "n": n, "pad": PADDING})
        largest = max(largest, store.wal_size())
    assert largest < WAL_BOUND
    assert store.truncations + store.forced_truncations > 0


def test_a_log_held_past_its_limit_by_a_reader_is_emptied_once_the_reader_lets_go(
    store: SqliteTableStore,
) -> None:
    # A reader holding one snapshot keeps every checkpoint from finishing; once it lets go,
    # the next writes find the log past the limit and it is emptied (by the checkpointer, or
    # by a write itself if the checkpointer is not quicker).
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN")
    holder.execute("SELECT count(*) FROM pb_items").fetchone()
    n = 0
    while store.wal_size() <= LIMIT_BYTES:
        store.put_item("items", {"id": f"i{n % 500}", "n": n, "pad": PADDING})
        n += 1
    holder.execute("COMMIT")
    holder.close()
    before = store.truncations + store.forced_truncations
    for m in range(300):
        store.put_item("items", {"id": f"i{m}", "n": m, "pad": PADDING})
    assert store.truncations + store.forced_truncations > before
    assert store.wal_size() < LIMIT_BYTES


def test_expired_items_are_swept_in_batches_and_their_pages_handed_back(
    store: SqliteTableStore,
) -> None:
    assert sqlite_tables.SWEEP_BATCH < 1500  # several transactions
    for n in range(1500):
        store.put_item("items", {"id": f"i{n}", "expires_at": 1000 + n, "pad": PADDING})
    pages = _page_count(store)
    assert store.delete_expired(now=10_000.0) == 1500
    assert store.scan("items").items == []
    assert _page_count(store) < pages / 10


def _page_count(store: SqliteTableStore) -> int:
    connection = sqlite3.connect(store.path)
    try:
        (count,) = connection.execute("PRAGMA page_count").fetchone()
        return int(count)
    finally:
        connection.close()
