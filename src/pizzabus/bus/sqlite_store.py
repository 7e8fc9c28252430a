"""The durable event store: SQLite in WAL mode, with group commit.

Writes are queued to one writer thread, which applies everything queued in one transaction
and commits once. A batch that someone waits on (accepted events, dead letters) commits with
``synchronous=FULL``: it is on disk when the commit returns. A batch of lazy writes only (a
delivery done or attempted) commits with ``synchronous=NORMAL``: no fsync of its own; it reaches
the disk with the next durable commit, since WAL frames are appended in order and one fsync of
the log keeps everything before it. Under load many PutEvents share each fsync, so durability
does not cost one fsync per event, and finishing a delivery costs none. Reads use their own
connection (WAL lets them run beside the writer).

The log stays bounded: the writer thread checkpoints after its own commits (no other write can
slip in between, so the log is fully copied and starts over), and if a reader ever held the
log long enough for it to pass :data:`WAL_CHECKPOINT_BYTES`, the writer empties it with a
TRUNCATE checkpoint that waits at most :data:`CHECKPOINT_WAIT_SECONDS` for readers. Deleted
rows' pages are reused by later writes; a new file is created with incremental auto-vacuum,
so pages freed by the archive's retention are handed back to the file system too.

A write that fails (the disk is full) puts the log in an outage: what is submitted meanwhile is
refused (each waiting caller gets the error), and every :data:`PROBE_SECONDS` the writer tries
a small write. Once one commits, the log takes writes again, by itself. Deliveries that
finished while their "finished" record could not be written are handed to ``on_recovered``
to run again (at least once, as after a restart): an invocation's own "finished" record is
what keeps the events it put, so the events it put during the outage are put again too.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path

from pizzabus.bus.deadletters import DeadLetter
from pizzabus.bus.records import Delivery
from pizzabus.bus.store import StoredEvent
from pizzabus.functions.errors import FunctionError
from pizzabus.system import RetryPolicy, Target

log = logging.getLogger("pizzabus.store")

#: The longest a lazy write (a delivery finished or attempted) waits for the writer.
LAZY_WRITE_DELAY = 0.05
#: How often, while a write has failed, the writer tries whether the log can be written again.
PROBE_SECONDS = 1.0
#: What the probe writes (and deletes at once): room for a batch of a few orders.
_PROBE_BYTES = 64 * 1024
#: Past this size, the writer empties the write-ahead log (TRUNCATE) after its commit.
WAL_CHECKPOINT_BYTES = 8 * 1024 * 1024
#: The longest that TRUNCATE checkpoint waits for readers (then a later commit retries).
CHECKPOINT_WAIT_SECONDS = 0.1
#: Commits to let pass after a TRUNCATE checkpoint found the log held by a reader.
RETRY_AFTER_COMMITS = 64
#: Free pages handed back to the file system at most per commit (incremental vacuum).
_VACUUM_PAGES = 256
#: Vacuum steps at most after one commit (4,096 pages: 16 MB).
_VACUUM_STEPS = 16

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
CREATE TABLE IF NOT EXISTS probe (filler BLOB);
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
    at REAL NOT NULL,
    stack_trace TEXT NOT NULL DEFAULT '[]'
);
"""

Write = Callable[[sqlite3.Connection], None]


class SqliteEventStore:
    """Events, deliveries, dead letters and the archive in one SQLite file."""

    def __init__(
        self,
        path: Path,
        targets: Callable[[str, str, int], Target],
        *,
        on_recovered: Callable[[list[Delivery]], None] | None = None,
    ) -> None:
        """``targets(bus, rule, index)`` gives the current target (and retry policy) of a
        stored delivery when it is resumed; ``on_recovered(deliveries)`` is called (on the
        writer's thread) after an outage with the deliveries to run again."""
        self.path = Path(path)
        self.wal_path = self.path.with_name(self.path.name + "-wal")
        self._targets = targets
        self._reader = self._connect()
        self._reader.executescript(SCHEMA)
        _add_missing_columns(self._reader)
        #: Checkpoints that emptied the log.
        self.truncations = 0
        self._read_lock = threading.Lock()
        # Writes in the order they were made; only a write someone waits on wakes the writer.
        self._pending: deque[tuple[Write, Future[None] | None] | None] = deque()
        self._wake = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="pizzabus-log", daemon=True)
        self.commits = 0
        self._truncate_after = 0
        self._freed = False  # rows were deleted in bulk: free pages to hand back
        #: Why the log refuses writes now, if it does (see ``_commit``); None once it recovered.
        self.failure: BaseException | None = None
        self.outages = 0
        self._on_recovered = on_recovered
        # Deliveries that finished while their record could not be written (see _commit).
        self._unfinished: set[str] = set()
        self._next_probe = 0.0
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        # Only takes effect on a new file (before its first page is written): an existing one
        # keeps its mode, and its free pages are reused but not handed back.
        connection.execute("PRAGMA auto_vacuum=INCREMENTAL")
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA busy_timeout=5000")
        connection.execute(f"PRAGMA journal_size_limit={WAL_CHECKPOINT_BYTES}")
        return connection

    def wal_size(self) -> int:
        """The write-ahead log's size on disk now, in bytes."""
        try:
            return os.stat(self.wal_path).st_size
        except FileNotFoundError:
            return 0

    def _keep_small(self, connection: sqlite3.Connection) -> None:
        """After a commit, on the writer thread: bound the log, hand free pages back."""
        if self.commits >= self._truncate_after and self.wal_size() > WAL_CHECKPOINT_BYTES:
            connection.execute(f"PRAGMA busy_timeout={int(CHECKPOINT_WAIT_SECONDS * 1000)}")
            try:
                busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                connection.execute("PRAGMA busy_timeout=5000")
            if busy:  # a reader still holds the log: let some commits pass before waiting again
                self._truncate_after = self.commits + RETRY_AFTER_COMMITS
            else:
                self.truncations += 1
        steps = 0
        while self._freed and steps < _VACUUM_STEPS:
            # Each step is a short transaction of its own; more than the steps allow is left
            # for after the next commit, so queued writes do not wait long.
            # Each page freed is one step of the statement, and execute() steps a statement
            # without result columns only once: executescript() runs it to the end.
            connection.executescript(f"PRAGMA incremental_vacuum({_VACUUM_PAGES});")
            (free,) = connection.execute("PRAGMA freelist_count").fetchone()
            self._freed = free > 0
            steps += 1

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
            if self.failure is not None and time.monotonic() >= self._next_probe:
                self._probe(connection)
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
                if self.failure is None:
                    try:
                        self._keep_small(connection)
                    except sqlite3.Error as error:  # only housekeeping: the next commit retries
                        log.warning(
                            "the event log %s could not be checkpointed: %s", self.path, error
                        )
            if stop:
                connection.close()
                return

    def _commit(
        self, connection: sqlite3.Connection, batch: list[tuple[Write, Future[None] | None]]
    ) -> None:
        # After a failed commit nothing more is written: a later write may depend on one that
        # was lost (an invocation's "delivered" record on the events it put, which were
        # answered before they were flushed), and must not be kept without it.
        # Until the log is written again (see _probe) the same holds for everything submitted
        # meanwhile: refused, and the deliveries it would have finished run again afterwards.
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
                self.outages += 1
                self._next_probe = time.monotonic() + PROBE_SECONDS
                log.error(
                    "the event log %s could not be written (%s): it refuses writes until it "
                    "can write again (tried every %g s; free some disk space)",
                    self.path,
                    failure,
                    PROBE_SECONDS,
                )
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
        if error is not None:
            self._unfinished.update(w.key for w, _ in batch if isinstance(w, _Finish))
        for _, future in batch:
            if future is None:
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

    def _probe(self, connection: sqlite3.Connection) -> None:
        """While in an outage: try a small write; if it commits, take writes again."""
        self._next_probe = time.monotonic() + PROBE_SECONDS
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO probe VALUES (zeroblob(?))", (_PROBE_BYTES,))
            connection.execute("DELETE FROM probe")
            connection.execute("COMMIT")
        except sqlite3.Error:
            if connection.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
            return
        log.warning("the event log %s is written again: it takes writes again", self.path)
        keys, self._unfinished = self._unfinished, set()
        self.failure = None
        if keys and self._on_recovered is not None:
            again = [d for d in self._stored_deliveries() if d.key in keys]
            self._on_recovered(again)

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
        self._submit(_Finish(delivery.key))

    def dead_lettered(self, delivery: Delivery, letter: DeadLetter) -> DeadLetter:
        stored = replace(letter, id=_letter_id())
        self._submit(_Finish(delivery.key, stored))
        return stored

    def pending(self) -> list[Delivery]:
        self._flush_for_reading()
        return self._stored_deliveries()

    def _stored_deliveries(self) -> list[Delivery]:
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
            if cursor.rowcount > 0:
                self._freed = True

        self._submit_and_vacuum(write)
        return removed[0] if removed else 0

    def trim(self, max_bytes: int) -> int:
        """The archive's size is its events' payloads (the file is about a third larger, with
        ids and indexes): the oldest go until the rest fit in ``max_bytes``."""
        removed: list[int] = []

        def write(connection: sqlite3.Connection) -> None:
            # length() of a BLOB reads its size from the row's header, not the payload.
            (total,) = connection.execute(
                "SELECT coalesce(sum(length(payload)), 0) FROM events WHERE archived = 1"
            ).fetchone()
            excess = total - max_bytes
            if excess <= 0:
                return
            doomed: list[tuple[str, str]] = []
            rows = connection.execute(
                "SELECT id, replay, length(payload) FROM events WHERE archived = 1 "
                "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id) "
                "ORDER BY time"
            )
            for event_id, replay, size in rows:
                doomed.append((event_id, replay))
                excess -= size
                if excess <= 0:
                    break
            rows.close()
            connection.executemany("DELETE FROM events WHERE id = ? AND replay = ?", doomed)
            removed.append(len(doomed))
            self._freed = bool(doomed)

        self._submit_and_vacuum(write)
        return sum(removed)

    def _submit_and_vacuum(self, write: Write) -> None:
        """Commit a bulk delete, and return once its freed pages are handed back: they are
        vacuumed after the commit, before the writer takes the next batch (the flush)."""
        future = self._submit(write, durable=True)
        assert future is not None
        future.result()
        self.flush()

    def put(self, letter: DeadLetter) -> DeadLetter:
        stored = replace(letter, id=letter.id or _letter_id())
        future = self._submit(lambda c: _insert_letter(c, stored), durable=True)
        assert future is not None
        future.result()
        return stored

    def list(self) -> list[DeadLetter]:
        self._flush_for_reading()
        with self._read_lock:
            rows = self._reader.execute("SELECT * FROM dead_letters ORDER BY at").fetchall()
        return [_letter(row) for row in rows]

    def get(self, letter_id: str) -> DeadLetter | None:
        self._flush_for_reading()
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

    def _flush_for_reading(self) -> None:
        """Reads see every write queued before them; in an outage, what is on disk."""
        if self.failure is None:
            with contextlib.suppress(sqlite3.Error):
                self.flush()

    def flush(self) -> None:
        """Wait until every write queued so far is committed."""
        future = self._submit(lambda c: None, durable=True)
        assert future is not None
        future.result()

    def close(self) -> None:
        if self.failure is None:  # in an outage there is nothing more to flush
            with contextlib.suppress(sqlite3.Error):
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


class _Finish:
    """The write that a delivery finished (with its dead letter, if it failed): named, so an
    outage knows which deliveries to run again (see ``SqliteEventStore._commit``)."""

    __slots__ = ("key", "letter")

    def __init__(self, key: str, letter: DeadLetter | None = None) -> None:
        self.key, self.letter = key, letter

    def __call__(self, connection: sqlite3.Connection) -> None:
        if self.letter is not None:
            _insert_letter(connection, self.letter)
        _finish(connection, self.key)


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
        "INSERT OR REPLACE INTO dead_letters VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            json.dumps(list(letter.stack_trace)),
        ),
    )


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    """Bring a log written by an earlier version up to this schema (columns added since)."""
    columns = {row[1] for row in connection.execute("PRAGMA table_info(dead_letters)")}
    if "stack_trace" not in columns:
        connection.execute(
            "ALTER TABLE dead_letters ADD COLUMN stack_trace TEXT NOT NULL DEFAULT '[]'"
        )


def _letter(row: tuple[object, ...]) -> DeadLetter:
    (letter_id, event_id, bus, rule, target, payload, attempts, reason, etype, emsg, at, trace) = (
        row
    )
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
        stack_trace=tuple(json.loads(str(trace))),
    )


def _letter_id() -> str:
    return f"dl-{uuid.uuid4().hex[:12]}"
