"""Tables in one SQLite file: the default store, under the data directory.

Items are kept as DynamoDB JSON (``{"pk": {"S": "a"}, "n": {"N": "1.5"}}``), so every type
round-trips exactly and the file can be read with the ``sqlite3`` shell. Keys are stored in the
byte encoding of :mod:`~pizzabus.tables.ordering`, so a query is a range scan of the primary key
(or of the index-entry table for a global index) already in sort-key order. Each write (the item
and its index entries) is one transaction; WAL mode with ``synchronous=NORMAL`` keeps commits
cheap and never leaves half a write behind after a crash.

Checkpoints (copying the write-ahead log back into the database, and flushing it to disk) run
on a thread of their own, not inside whichever write crosses SQLite's threshold: writes come
from handlers, which may run on the server's event loop, and a checkpoint's flush there would
stall every request for tens of milliseconds.

A checkpoint alone does not bound the log: SQLite starts the log over only when a write begins
while *every* frame has been copied back. A PASSIVE checkpoint never stops writers, so under a
steady load some write nearly always commits during its flush, the log is never reset, and it
grew by the size of every page written (about 100 KB an order, gigabytes within minutes). So
once the log passes :data:`WAL_CHECKPOINT_BYTES` the checkpointer follows its PASSIVE copy
with a TRUNCATE checkpoint: it holds writers back for the few frames written meanwhile (a few
milliseconds, with a bounded wait for readers) and empties the file. Should the checkpointer
ever fall behind, the write that finds the log past :data:`WAL_LIMIT_BYTES` truncates it
itself, so the log stays bounded at every moment, whatever the timing.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pizzabus.system import GlobalIndex, KeyAttribute, Table
from pizzabus.tables.codec import dumps, loads
from pizzabus.tables.engine import TTL_HORIZON_SECONDS, Engine, Record, Write, ttl_of
from pizzabus.tables.keys import KeyValue, SortRange
from pizzabus.tables.ordering import encode, prefix_end
from pizzabus.tables.values import Item

#: How often the write-ahead log is checkpointed into the database.
CHECKPOINT_SECONDS = 1.0
#: Past this size, the checkpointer empties the log (TRUNCATE) after copying it.
WAL_CHECKPOINT_BYTES = 8 * 1024 * 1024
#: Past this size, the write that notices empties the log itself (the checkpointer is behind).
WAL_LIMIT_BYTES = 32 * 1024 * 1024
#: The longest a TRUNCATE checkpoint waits for readers and writers (then the next one retries).
CHECKPOINT_WAIT_SECONDS = 0.1
#: Expired items deleted per transaction (per table) by a TTL sweep.
SWEEP_BATCH = 500
#: Free pages handed back to the file system per step after a TTL sweep.
_VACUUM_PAGES = 256
#: Writes to let pass after a TRUNCATE found the log held by a reader.
_RETRY_AFTER_WRITES = 256
#: How long a write waits for the database's write lock.
_WRITE_WAIT_SECONDS = 10.0
#: Writes between two looks at the log's size (a stat: about a microsecond).
_SIZE_CHECK_EVERY = 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pb_tables (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pb_items (
    tbl  TEXT NOT NULL,
    pk   BLOB NOT NULL,
    sk   BLOB NOT NULL,
    item TEXT NOT NULL,
    size INTEGER NOT NULL,
    ttl  REAL,
    PRIMARY KEY (tbl, pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pb_items_ttl ON pb_items (tbl, ttl) WHERE ttl IS NOT NULL;
CREATE TABLE IF NOT EXISTS pb_index (
    tbl     TEXT NOT NULL,
    idx     TEXT NOT NULL,
    pk      BLOB NOT NULL,
    sk      BLOB NOT NULL,
    item_pk BLOB NOT NULL,
    item_sk BLOB NOT NULL,
    PRIMARY KEY (tbl, idx, pk, sk, item_pk, item_sk)
) WITHOUT ROWID;
"""


class SqliteTableStore(Engine):
    """A :class:`~pizzabus.tables.store.TableStore` in the SQLite database at ``path``
    (created, with its parent directories, if missing)."""

    shares_items = False

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=_WRITE_WAIT_SECONDS
        )
        # Pages freed by TTL sweeps go back to the file system (on a new file: an existing one
        # keeps its mode and reuses free pages for new items).
        self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        # A log emptied by a plain restart (not TRUNCATE) is cut back to this size.
        self._db.execute(f"PRAGMA journal_size_limit={WAL_CHECKPOINT_BYTES}")
        self._db.executescript(_SCHEMA)
        self.wal_path = self.path.with_name(self.path.name + "-wal")
        self._writes = 0
        self._force_after = 0
        #: Checkpoints that emptied the log: by the checkpointer, and by a write (fallback).
        self.truncations = 0
        self.forced_truncations = 0
        self._closing = threading.Event()
        self._closed = False
        self._wake = threading.Event()
        self._checkpointing = threading.Lock()  # one checkpoint at a time (see _watch_log)
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="pizzabus-tables-checkpoint", daemon=True
        )
        self._checkpointer.start()
        for name, spec in self._db.execute("SELECT name, spec FROM pb_tables"):
            self._specs[name] = _spec_from_json(spec)

    def _where(self) -> str:
        return f"in {self.path}"

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        self._writes += 1
        if self._writes % _SIZE_CHECK_EVERY == 0:
            self._watch_log()

    def _watch_log(self) -> None:
        """Wake the checkpointer when the log has grown; empty it here if it is far behind."""
        size = self.wal_size()
        if size > WAL_LIMIT_BYTES and self._writes >= self._force_after:
            # Rare: the checkpointer could not keep up (a stalled machine, a reader that held
            # the log). The engine's lock is held, so no write of ours is in progress; the
            # checkpoint lock waits for a round of the checkpointer in progress (whose
            # checkpoint would make ours fail at once) and lets it finish first.
            with self._checkpointing:
                if self.wal_size() <= WAL_LIMIT_BYTES:
                    return
                self._db.execute(f"PRAGMA busy_timeout={int(CHECKPOINT_WAIT_SECONDS * 1000)}")
                try:
                    busy, _, _ = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                except sqlite3.Error:
                    busy = 1
                finally:
                    self._db.execute(f"PRAGMA busy_timeout={int(_WRITE_WAIT_SECONDS * 1000)}")
            if busy:  # a reader still holds the log: let some writes pass before waiting again
                self._force_after = self._writes + _RETRY_AFTER_WRITES
            else:
                self.forced_truncations += 1
        elif size > WAL_CHECKPOINT_BYTES:
            self._wake.set()

    def wal_size(self) -> int:
        """The write-ahead log's size on disk now, in bytes."""
        try:
            return os.stat(self.wal_path).st_size
        except FileNotFoundError:
            return 0

    def _save_spec(self, spec: Table, previous: Table | None) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO pb_tables (name, spec) VALUES (?, ?)",
            (spec.name, _spec_to_json(spec)),
        )
        if previous is None:
            return
        # Indexes or the TTL attribute changed: rebuild both from the items.
        self._db.execute("DELETE FROM pb_index WHERE tbl = ?", (spec.name,))
        rows = self._db.execute(
            "SELECT pk, sk, item FROM pb_items WHERE tbl = ?", (spec.name,)
        ).fetchall()
        for pk, sk, text in rows:
            item = loads(text)
            expires = ttl_of(spec, item)
            self._db.execute(
                "UPDATE pb_items SET ttl = ? WHERE tbl = ? AND pk = ? AND sk = ?",
                (None if expires is None else float(expires), spec.name, pk, sk),
            )
            self._insert_index(spec.name, pk, sk, self.backfill_entries(spec, item))

    def _get(self, spec: Table, pk: KeyValue, sk: KeyValue | None) -> Record | None:
        row = self._db.execute(
            "SELECT item, size FROM pb_items WHERE tbl = ? AND pk = ? AND sk = ?",
            (spec.name, encode(pk), encode(sk)),
        ).fetchone()
        return None if row is None else (loads(row[0]), row[1])

    def _write(self, spec: Table, write: Write) -> None:
        pk, sk = encode(write.pk), encode(write.sk)
        db = self._db
        if write.old_index:
            db.executemany(
                "DELETE FROM pb_index WHERE tbl = ? AND idx = ? AND pk = ? AND sk = ? "
                "AND item_pk = ? AND item_sk = ?",
                [
                    (spec.name, n, encode(ipk), encode(isk), pk, sk)
                    for n, ipk, isk in write.old_index
                ],
            )
        if write.item is None:
            db.execute(
                "DELETE FROM pb_items WHERE tbl = ? AND pk = ? AND sk = ?", (spec.name, pk, sk)
            )
        else:
            # An upsert changes the row in place, where INSERT OR REPLACE would delete it and
            # insert it again (with its TTL index entry): the same row, fewer pages written.
            db.execute(
                "INSERT INTO pb_items (tbl, pk, sk, item, size, ttl) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (tbl, pk, sk) DO UPDATE SET "
                "item = excluded.item, size = excluded.size, ttl = excluded.ttl",
                (
                    spec.name,
                    pk,
                    sk,
                    dumps(write.item),
                    write.size,
                    None if write.ttl is None else float(write.ttl),
                ),
            )
        self._insert_index(spec.name, pk, sk, write.new_index)

    def _insert_index(self, table: str, pk: bytes, sk: bytes, entries: list[Any]) -> None:
        if entries:
            self._db.executemany(
                "INSERT OR REPLACE INTO pb_index (tbl, idx, pk, sk, item_pk, item_sk) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(table, name, encode(ipk), encode(isk), pk, sk) for name, ipk, isk in entries],
            )

    def _range(
        self,
        spec: Table,
        index: GlobalIndex | None,
        pk: KeyValue,
        sort: SortRange | None,
        forward: bool,
        after: Any,
        limit: int,
    ) -> list[Record]:
        order = "ASC" if forward else "DESC"
        bounds, arguments = _sort_bounds("e.sk" if index else "sk", sort)
        if index is None:
            sql = f"SELECT item, size FROM pb_items WHERE tbl = ? AND pk = ?{bounds}"
            params: list[Any] = [spec.name, encode(pk), *arguments]
            if after is not None:
                sql += " AND sk > ?" if forward else " AND sk < ?"
                params.append(encode(after))
            sql += f" ORDER BY sk {order} LIMIT ?"
        else:
            sql = (
                "SELECT i.item, i.size FROM pb_index e JOIN pb_items i "
                "ON i.tbl = e.tbl AND i.pk = e.item_pk AND i.sk = e.item_sk "
                f"WHERE e.tbl = ? AND e.idx = ? AND e.pk = ?{bounds}"
            )
            params = [spec.name, index.name, encode(pk), *arguments]
            if after is not None:
                sql += (
                    " AND (e.sk, e.item_pk, e.item_sk) > (?, ?, ?)"
                    if forward
                    else " AND (e.sk, e.item_pk, e.item_sk) < (?, ?, ?)"
                )
                params += [encode(v) for v in after]
            sql += f" ORDER BY e.sk {order}, e.item_pk {order}, e.item_sk {order} LIMIT ?"
        params.append(limit)
        return [(loads(text), size) for text, size in self._db.execute(sql, params)]

    def _scan(self, spec: Table, index: GlobalIndex | None, after: Any, limit: int) -> list[Record]:
        if index is None:
            sql = "SELECT item, size FROM pb_items WHERE tbl = ?"
            params: list[Any] = [spec.name]
            if after is not None:
                sql += " AND (pk, sk) > (?, ?)"
                params += [encode(v) for v in after]
            sql += " ORDER BY pk, sk LIMIT ?"
        else:
            sql = (
                "SELECT i.item, i.size FROM pb_index e JOIN pb_items i "
                "ON i.tbl = e.tbl AND i.pk = e.item_pk AND i.sk = e.item_sk "
                "WHERE e.tbl = ? AND e.idx = ?"
            )
            params = [spec.name, index.name]
            if after is not None:
                sql += " AND (e.pk, e.sk, e.item_pk, e.item_sk) > (?, ?, ?, ?)"
                params += [encode(v) for v in after]
            sql += " ORDER BY e.pk, e.sk, e.item_pk, e.item_sk LIMIT ?"
        params.append(limit)
        return [(loads(text), size) for text, size in self._db.execute(sql, params)]

    def _expiring(self, spec: Table, now: float) -> list[Item]:
        # ttl is a float copy of the exact number: look a second wider, the engine checks exactly.
        # At most a batch, oldest first: see delete_expired.
        rows = self._db.execute(
            "SELECT item FROM pb_items WHERE tbl = ? AND ttl BETWEEN ? AND ? ORDER BY ttl LIMIT ?",
            (spec.name, now - TTL_HORIZON_SECONDS - 1, now + 1, SWEEP_BATCH),
        )
        return [loads(text) for (text,) in rows]

    def delete_expired(self, now: float) -> int:
        # A batch per transaction, the lock let go in between: a minute of expired orders is
        # thousands of items, and handlers' writes on the event loop wait for the lock.
        removed = 0
        while True:
            batch = super().delete_expired(now)
            removed += batch
            if batch == 0 or self._closed:
                break
        # Hand the freed pages back in bounded steps, letting writes in between.
        while removed:
            with self._lock:
                if self._closed:
                    break
                # executescript() steps it to the end; execute() would free one page.
                self._db.executescript(f"PRAGMA incremental_vacuum({_VACUUM_PAGES});")
                (free,) = self._db.execute("PRAGMA freelist_count").fetchone()
            if not free:
                break
        return removed

    def _checkpoint_loop(self) -> None:
        connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        connection.execute(f"PRAGMA busy_timeout={int(CHECKPOINT_WAIT_SECONDS * 1000)}")
        try:
            while not self._closing.is_set():
                self._wake.wait(CHECKPOINT_SECONDS)
                self._wake.clear()
                if not self._closing.is_set():
                    self._checkpoint(connection)
        finally:
            connection.close()

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        with self._checkpointing, contextlib.suppress(sqlite3.Error):  # busy: the next round
            # PASSIVE copies what no reader still needs and never waits for or blocks a writer:
            # the bulk of the work, beside the writes.
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            if self.wal_size() > WAL_CHECKPOINT_BYTES:
                # Only the frames written during the copy are left: TRUNCATE holds writers back
                # while it copies those, then empties the file (see the module's docstring).
                busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if not busy:
                    self.truncations += 1

    def _close(self) -> None:
        self._closing.set()
        self._wake.set()
        self._checkpointer.join(timeout=10)
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()
        self._closed = True


def _sort_bounds(column: str, sort: SortRange | None) -> tuple[str, list[bytes]]:
    if sort is None:
        return "", []
    clauses: list[str] = []
    arguments: list[bytes] = []
    if sort.prefix is not None:
        start = encode(sort.prefix)
        clauses.append(f" AND {column} >= ?")
        arguments.append(start)
        end = prefix_end(start)
        if end is not None:
            clauses.append(f" AND {column} < ?")
            arguments.append(end)
    if sort.low is not None:
        clauses.append(f" AND {column} {'>=' if sort.low_inclusive else '>'} ?")
        arguments.append(encode(sort.low))
    if sort.high is not None:
        clauses.append(f" AND {column} {'<=' if sort.high_inclusive else '<'} ?")
        arguments.append(encode(sort.high))
    return "".join(clauses), arguments


def _spec_to_json(spec: Table) -> str:
    def key(attribute: KeyAttribute | None) -> Any:
        return None if attribute is None else [attribute.name, attribute.type]

    return json.dumps(
        {
            "name": spec.name,
            "partition_key": key(spec.partition_key),
            "sort_key": key(spec.sort_key),
            "indexes": [
                {"name": g.name, "partition_key": key(g.partition_key), "sort_key": key(g.sort_key)}
                for g in spec.indexes
            ],
            "ttl_attribute": spec.ttl_attribute,
        }
    )


def _spec_from_json(text: str) -> Table:
    data = json.loads(text)

    def key(value: Any) -> Any:
        return None if value is None else KeyAttribute(value[0], value[1])

    return Table(
        name=data["name"],
        partition_key=key(data["partition_key"]),
        sort_key=key(data["sort_key"]),
        indexes=tuple(
            GlobalIndex(g["name"], key(g["partition_key"]), key(g["sort_key"]))
            for g in data["indexes"]
        ),
        ttl_attribute=data["ttl_attribute"],
    )
