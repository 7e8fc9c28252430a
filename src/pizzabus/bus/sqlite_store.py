"""The durable event store: SQLite in WAL mode, with group commit.

Writes are queued to one writer thread, which applies everything queued in one transaction
and commits once. A batch that someone waits on (accepted events, dead letters) commits with
``synchronous=FULL``: it is on disk when the commit returns. A batch of lazy writes only (a
delivery done or attempted) commits with ``synchronous=NORMAL``: no fsync of its own; it reaches
the disk with the next durable commit, since WAL frames are appended in order and one fsync of
the log keeps everything before it. Under load many PutEvents share each fsync, so durability
does not cost one fsync per event, and finishing a delivery costs none. Reads use their own
connection (WAL lets them run beside the writer).
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import threading
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path

from pizzabus.bus.deadletters import DeadLetter
from pizzabus.bus.delivery import Delivery
from pizzabus.bus.store import StoredEvent
from pizzabus.functions.errors import FunctionError
from pizzabus.system import RetryPolicy, Target

log = logging.getLogger("pizzabus.store")

#: The longest a lazy write (a delivery finished or attempted) waits for the writer.
LAZY_WRITE_DELAY = 0.05

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT NOT NULL,
    replay TEXT NOT NULL DEFAULT '',
    bus TEXT NOT NULL,
    time REAL NOT NULL,
    payload BLOB NOT NULL,
    archived INTEGER NOT NULL,
    PRIMARY KEY (id, replay)
);
CREATE INDEX IF NOT EXISTS events_archive ON events (bus, time) WHERE archived = 1;
CREATE TABLE IF NOT EXISTS deliveries (
    key TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    replay TEXT NOT NULL DEFAULT '',
    bus TEXT NOT NULL,
    rule TEXT NOT NULL,
    idx INTEGER NOT NULL,
    target TEXT NOT NULL,
    policy TEXT NOT NULL,
    published_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error_type TEXT,
    error_message TEXT
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    bus TEXT NOT NULL,
    rule TEXT NOT NULL,
    target TEXT NOT NULL,
    payload BLOB NOT NULL,
    attempts INTEGER NOT NULL,
    reason TEXT NOT NULL,
    error_type TEXT NOT NULL,
    error_message TEXT NOT NULL,
    at REAL NOT NULL
);
"""

Write = Callable[[sqlite3.Connection], None]


class SqliteEventStore:
    """Events, deliveries, dead letters and the archive in one SQLite file."""

    def __init__(self, path: Path, targets: Callable[[str, str, int], Target]) -> None:
        """``targets(bus, rule, index)`` gives the current target (and retry policy) of a
        stored delivery when it is resumed."""
        self.path = path
        self._targets = targets
        self._reader = self._connect()
        self._reader.executescript(SCHEMA)
        self._read_lock = threading.Lock()
        # Writes in the order they were made; only a write someone waits on wakes the writer.
        self._pending: deque[tuple[Write, Future[None] | None] | None] = deque()
        self._wake = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="pizzabus-log", daemon=True)
        self.commits = 0
        #: Why the log stopped accepting writes, if it has (see ``_commit``).
        self.failure: BaseException | None = None
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA busy_timeout=5000")
        return connection

    # --- the writer thread -------------------------------------------------------------------

    def _submit(self, write: Write, durable: bool = False) -> Future[None] | None:
        """Queue a write. A durable one wakes the writer and is flushed before its future
        resolves; a lazy one (a delivery finished) waits for the next durable write or at most
        ``LAZY_WRITE_DELAY``: waking the writer for each cost a thread switch, several per
        order."""
        future: Future[None] | None = Future() if durable else None
        self._pending.append((write, future))  # deque.append is atomic
        if durable:
            self._wake.set()
        return future

    def _write_loop(self) -> None:
        connection = self._connect()
        durable = True  # _connect() sets synchronous=FULL
        while True:
            self._wake.wait(LAZY_WRITE_DELAY)
            self._wake.clear()  # before taking the writes: a later set() is not lost
            batch: list[tuple[Write, Future[None] | None]] = []
            stop = False
            while self._pending and len(batch) < 5000:
                item = self._pending.popleft()
                if item is None:
                    stop = True
                    break
                batch.append(item)
            if len(batch) == 5000:
                self._wake.set()  # more to do: go round again at once
            if batch:
                waited_on = any(future is not None for _, future in batch)
                if waited_on != durable:
                    connection.execute(f"PRAGMA synchronous={'FULL' if waited_on else 'NORMAL'}")
                    durable = waited_on
                self._commit(connection, batch)
            if stop:
                connection.close()
                return

    def _commit(
        self, connection: sqlite3.Connection, batch: list[tuple[Write, Future[None] | None]]
    ) -> None:
        # After a failed commit nothing more is written: a later write may depend on one that
        # was lost (an invocation's "delivered" record on the events it put, which were
        # answered before they were flushed), and must not be kept without it.
        error: BaseException | None = self.failure
        if error is None:
            try:
                connection.execute("BEGIN IMMEDIATE")
                for write, _ in batch:
                    write(connection)
                connection.execute("COMMIT")
                self.commits += 1
            except BaseException as failure:
                error = self.failure = failure
                log.error(
                    "the event log %s could not be written (%s): it accepts nothing more; "
                    "restart the server once the cause is fixed (what it had accepted "
                    "resumes then)",
                    self.path,
                    failure,
                )
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
        for _, future in batch:
            if future is None:
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

    # --- EventStore --------------------------------------------------------------------------

    def record(self, events: Sequence[StoredEvent], deliveries: Sequence[Delivery]) -> Future[None]:
        event_rows = [(e.id, "", e.bus, e.time, e.payload, int(e.archived)) for e in events]
        delivery_rows = [_delivery_row(d) for d in deliveries]
        replay_rows = [
            (d.event_id, d.replay_name, d.bus, d.published_at, d.payload, 0)
            for d in deliveries
            if d.replay_name
        ]

        def write(connection: sqlite3.Connection) -> None:
            connection.executemany(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?)", event_rows + replay_rows
            )
            connection.executemany(
                "INSERT OR REPLACE INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                delivery_rows,
            )

        future = self._submit(write, durable=True)
        assert future is not None
        return future

    def attempted(self, delivery: Delivery) -> None:
        error = delivery.last_error
        values = (
            delivery.attempts,
            error.error_type if error else None,
            error.message if error else None,
            delivery.key,
        )

        def write(connection: sqlite3.Connection) -> None:
            connection.execute(
                "UPDATE deliveries SET attempts = ?, error_type = ?, error_message = ? "
                "WHERE key = ?",
                values,
            )

        self._submit(write)

    def delivered(self, delivery: Delivery) -> None:
        key = delivery.key
        self._submit(lambda c: _finish(c, key))

    def dead_lettered(self, delivery: Delivery, letter: DeadLetter) -> DeadLetter:
        stored = replace(letter, id=_letter_id())
        key = delivery.key

        def write(connection: sqlite3.Connection) -> None:
            _insert_letter(connection, stored)
            _finish(connection, key)

        self._submit(write)
        return stored

    def pending(self) -> list[Delivery]:
        self.flush()
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT d.event_id, d.replay, d.bus, d.rule, d.idx, d.published_at, d.attempts, "
                "d.error_type, d.error_message, e.payload FROM deliveries d "
                "JOIN events e ON e.id = d.event_id AND e.replay = d.replay "
                "ORDER BY d.published_at"
            ).fetchall()
        resumed = []
        for event_id, replay, bus, rule, idx, published, attempts, etype, emsg, payload in rows:
            resumed.append(
                Delivery(
                    event_id=event_id,
                    bus=bus,
                    rule=rule,
                    target=self._targets(bus, rule, idx),
                    payload=payload,
                    published_at=published,
                    attempts=attempts,
                    last_error=FunctionError(etype, emsg) if etype else None,
                    index=idx,
                    replay_name=replay or None,
                )
            )
        return resumed

    def archived(self, bus: str, start: float, end: float) -> list[StoredEvent]:
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT id, bus, time, payload FROM events WHERE archived = 1 AND bus = ? "
                "AND time >= ? AND time < ? ORDER BY time",
                (bus, start, end),
            ).fetchall()
        return [StoredEvent(i, b, t, p, archived=True) for i, b, t, p in rows]

    def expire(self, bus: str, archived_before: float) -> int:
        removed: list[int] = []

        def write(connection: sqlite3.Connection) -> None:
            cursor = connection.execute(
                "DELETE FROM events WHERE archived = 1 AND bus = ? AND time < ? AND NOT EXISTS "
                "(SELECT 1 FROM deliveries d WHERE d.event_id = events.id)",
                (bus, archived_before),
            )
            removed.append(cursor.rowcount)

        future = self._submit(write, durable=True)
        assert future is not None
        future.result()
        return removed[0] if removed else 0

    def put(self, letter: DeadLetter) -> DeadLetter:
        stored = replace(letter, id=letter.id or _letter_id())
        future = self._submit(lambda c: _insert_letter(c, stored), durable=True)
        assert future is not None
        future.result()
        return stored

    def list(self) -> list[DeadLetter]:
        self._flush_for_read()
        with self._read_lock:
            rows = self._reader.execute("SELECT * FROM dead_letters ORDER BY at").fetchall()
        return [_letter(row) for row in rows]

    def get(self, letter_id: str) -> DeadLetter | None:
        self._flush_for_read()
        with self._read_lock:
            row = self._reader.execute(
                "SELECT * FROM dead_letters WHERE id = ?", (letter_id,)
            ).fetchone()
        return _letter(row) if row else None

    def remove(self, letter_id: str) -> bool:
        removed: list[int] = []

        def write(connection: sqlite3.Connection) -> None:
            cursor = connection.execute("DELETE FROM dead_letters WHERE id = ?", (letter_id,))
            removed.append(cursor.rowcount)

        future = self._submit(write, durable=True)
        assert future is not None
        future.result()
        return bool(removed and removed[0])

    def _flush_for_read(self) -> None:
        # After a failed write nothing more will be committed: read what was (the admin API
        # keeps answering on a full disk) rather than raise the failure again.
        if self.failure is None:
            self.flush()

    def flush(self) -> None:
        """Wait until every write queued so far is committed."""
        future = self._submit(lambda c: None, durable=True)
        assert future is not None
        future.result()

    def close(self) -> None:
        if self.failure is None:  # after a failed write there is nothing more to flush
            self.flush()
        self._pending.append(None)
        self._wake.set()
        self._writer.join(timeout=10)
        self._reader.close()


@functools.lru_cache(maxsize=256)
def _policy_json(policy: RetryPolicy) -> str:
    # A handful of targets, each with one policy: encoded once, not for every delivery.
    return json.dumps(
        {
            "maximum_retry_attempts": policy.maximum_retry_attempts,
            "maximum_event_age": policy.maximum_event_age.total_seconds(),
        }
    )


def _delivery_row(d: Delivery) -> tuple[object, ...]:
    policy = _policy_json(d.target.retry_policy)
    error = d.last_error
    return (
        d.key,
        d.event_id,
        d.replay_name or "",
        d.bus,
        d.rule,
        d.index,
        d.target.function,
        policy,
        d.published_at,
        d.attempts,
        error.error_type if error else None,
        error.message if error else None,
    )


def _finish(connection: sqlite3.Connection, key: str) -> None:
    row = connection.execute(
        "DELETE FROM deliveries WHERE key = ? RETURNING event_id, replay", (key,)
    ).fetchone()
    if row is None:
        return
    # An event that is not archived is kept only while some delivery still needs it.
    connection.execute(
        "DELETE FROM events WHERE id = ? AND replay = ? AND archived = 0 AND NOT EXISTS "
        "(SELECT 1 FROM deliveries d WHERE d.event_id = ? AND d.replay = ?)",
        (row[0], row[1], row[0], row[1]),
    )


def _insert_letter(connection: sqlite3.Connection, letter: DeadLetter) -> None:
    connection.execute(
        "INSERT OR REPLACE INTO dead_letters VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            letter.id,
            letter.event_id,
            letter.bus,
            letter.rule,
            letter.target,
            letter.payload,
            letter.attempts,
            letter.reason,
            letter.error_type,
            letter.error_message,
            letter.at,
        ),
    )


def _letter(row: tuple[object, ...]) -> DeadLetter:
    (letter_id, event_id, bus, rule, target, payload, attempts, reason, etype, emsg, at) = row
    return DeadLetter(
        id=str(letter_id),
        event_id=str(event_id),
        bus=str(bus),
        rule=str(rule),
        target=str(target),
        payload=payload if isinstance(payload, bytes) else str(payload).encode(),
        attempts=int(attempts),  # type: ignore[call-overload]
        reason=str(reason),
        error_type=str(etype),
        error_message=str(emsg),
        at=float(at),  # type: ignore[arg-type]
    )


def _letter_id() -> str:
    return f"dl-{uuid.uuid4().hex[:12]}"
