"""PostgresTableStore: the engine's DynamoDB semantics on a PostgreSQL database many processes
share.

Every operation is one statement on a pooled connection in autocommit mode, so one round trip:
a read is a ``SELECT``; a write that needs the item as it is (a condition, an update, returned
values, index entries to move) reads it, lets the engine decide, and writes with
compare-and-set on the item's revision (:mod:`.statements`), deciding again if another process
wrote it in between. A write that may be creating the item tries that first: inserting if
absent answers the item in the same round trip when it was there after all. Nothing holds a
lock across a round trip.

TransactWriteItems is the one exception: a SERIALIZABLE transaction reads its items in one
snapshot, and writes them compare-and-set on the revisions it decided on, or is decided again
(see ``_transact``). A lost connection rolls it back whole.

A lost connection turns into :class:`TableUnavailable` (retryable; a single statement is
applied whole or not at all), and the pool drops its broken connections and reconnects once
PostgreSQL answers again.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import psycopg
from psycopg import errors, sql
from psycopg_pool import ConnectionPool

from pizzabus.errors import PizzabusError
from pizzabus.system import GlobalIndex, Table
from pizzabus.tables.codec import dumps, loads
from pizzabus.tables.engine import (
    TTL_HORIZON_SECONDS,
    Decide,
    DecideAll,
    Engine,
    ItemKey,
    Record,
    Write,
    ttl_of,
)
from pizzabus.tables.errors import TableUnavailable
from pizzabus.tables.keys import KeyValue, SortRange
from pizzabus.tables.ordering import encode
from pizzabus.tables.postgres.schema import ensure_table, load_specs, parse_dsn
from pizzabus.tables.postgres.statements import TableSql, build
from pizzabus.tables.transactions import TransactionCanceled
from pizzabus.tables.values import Item

#: Seconds to wait for a connection (from the pool, or to the server) before giving up.
CONNECT_SECONDS = 5.0
#: Compare-and-set attempts before a write gives up (each lost one means another writer won).
MAX_ATTEMPTS = 1000
#: Attempts of a TransactWriteItems before it is cancelled as conflicting (each lost one means
#: another writer changed one of its items since it read them).
MAX_TRANSACTION_ATTEMPTS = 100
_SERIALIZABLE = b"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"


class _Lost(Exception):
    """Another writer changed an item of the transaction since it was read: decide again."""


_NO_LOCK: AbstractContextManager[None] = nullcontext()


class PostgresTableStore(Engine):
    """A :class:`~pizzabus.tables.store.TableStore` in the PostgreSQL database ``dsn`` names
    (``postgresql://USER@HOST:PORT/DB[?schema=NAME]``).

    Raises :class:`TableUnavailable` with one line naming the server and database (never the
    password) if it cannot connect."""

    shares_items = False
    shared = True

    def __init__(self, dsn: str, *, max_connections: int = 20) -> None:
        super().__init__()
        self._lock = _NO_LOCK  # the database serializes what needs it
        try:
            self.address = parse_dsn(dsn)
        except ValueError as error:
            raise TableUnavailable(f"bad --tables DSN: {error}") from None
        self.schema = self.address.schema
        self._sql: dict[str, TableSql] = {}
        self._checking = threading.Lock()
        try:
            with psycopg.connect(
                self.address.conninfo, autocommit=True, connect_timeout=int(CONNECT_SECONDS)
            ) as connection:
                self._specs.update(load_specs(connection, self.schema))
        except psycopg.Error as error:
            raise TableUnavailable(self._unreachable(error)) from None
        self._pool = ConnectionPool(
            self.address.conninfo,
            min_size=2,
            max_size=max_connections,
            kwargs={
                "autocommit": True,
                "prepare_threshold": 0,
                "connect_timeout": int(CONNECT_SECONDS),
            },
            timeout=CONNECT_SECONDS,
            name="pizzabus-tables",
            open=True,
        )

    @property
    def location(self) -> str:
        """``USER@HOST:PORT/DB (schema NAME)``: where the tables are, without the password."""
        return f"{self.address.describe()} (schema {self.schema})"

    def _unreachable(self, error: BaseException) -> str:
        reason = " ".join(str(error).split()) or type(error).__name__
        return (
            f"cannot use PostgreSQL at {self.address.describe()}: {reason} "
            f"(check that the server runs and accepts connections there, that database "
            f"{self.address.database!r} exists, and the user and password)"
        )

    # -- connections ----------------------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as connection:
                yield connection
        except psycopg.OperationalError as error:
            self._drop_broken()
            raise TableUnavailable(
                f"{self._unreachable(error)}; the call was not applied (or applied whole): retry it"
            ) from None

    def _drop_broken(self) -> None:
        # The server went away: its other pooled connections are broken too. Test them in the
        # background so the next calls get fresh ones, without delaying this error.
        if self._checking.acquire(blocking=False):

            def check() -> None:
                try:
                    with contextlib.suppress(Exception):
                        self._pool.check()
                finally:
                    self._checking.release()

            threading.Thread(target=check, name="pizzabus-tables-check", daemon=True).start()

    def _statements(self, spec: Table) -> TableSql:
        found = self._sql.get(spec.name)
        if found is None:
            found = self._sql[spec.name] = build(self.schema, spec)
        return found

    # -- hooks ----------------------------------------------------------------------------------

    def _where(self) -> str:
        return f"in PostgreSQL at {self.address.describe()} (schema {self.schema})"

    def _transaction(self) -> AbstractContextManager[None]:
        return _NO_LOCK  # each write is one statement; _save_spec has its own transaction

    def _save_spec(self, spec: Table, previous: Table | None) -> None:
        with self._connection() as connection, connection.transaction():
            before = ensure_table(connection, self.schema, spec, self._where())
            if before is not None and before != spec:
                self._rebuild(connection, spec)
        self._sql[spec.name] = build(self.schema, spec)

    def _rebuild(self, connection: psycopg.Connection[Any], spec: Table) -> None:
        """Indexes or the TTL attribute changed: rebuild both from the items."""
        table = build(self.schema, spec)
        for index in table.indexes:
            connection.execute(sql.SQL("TRUNCATE {}").format(index))
        rows = connection.execute(
            sql.SQL("SELECT pk, sk, item::text FROM {}").format(table.items)
        ).fetchall()
        for pk, sk, text in rows:
            item = loads(text)
            expires = ttl_of(spec, item)
            connection.execute(
                sql.SQL("UPDATE {} SET ttl = %s WHERE pk = %s AND sk = %s").format(table.items),
                (None if expires is None else float(expires), pk, sk),
            )
            positions = {g.name: i for i, g in enumerate(spec.indexes)}
            for name, ipk, isk in self.backfill_entries(spec, item):
                connection.execute(
                    sql.SQL(
                        "INSERT INTO {} (pk, sk, item_pk, item_sk) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT DO NOTHING"
                    ).format(table.indexes[positions[name]]),
                    (encode(ipk), encode(isk), pk, sk),
                )

    def _get(self, spec: Table, pk: KeyValue, sk: KeyValue | None) -> Record | None:
        with self._connection() as connection:
            row = connection.execute(
                self._statements(spec).get, (encode(pk), encode(sk))
            ).fetchone()
        return None if row is None else (loads(row[0]), row[1])

    def _write(self, spec: Table, write: Write) -> None:
        raise NotImplementedError("PostgreSQL writes go through _apply (compare-and-set)")

    def _apply(
        self,
        spec: Table,
        pk: KeyValue,
        sk: KeyValue | None,
        decide: Decide,
        blind: Write | None,
    ) -> Item | None:
        statements = self._statements(spec)
        kp, ks = encode(pk), encode(sk)
        with self._connection() as connection:
            if blind is not None and not spec.indexes:
                if blind.item is None:
                    connection.execute(statements.delete_blind, (kp, ks))
                else:
                    connection.execute(statements.upsert, self._params(spec, kp, ks, blind, 0))
                return None
            row: Any = None
            try:
                write, answer = decide(None)
            except PizzabusError:
                write = None  # it holds only for the item as it is: read that
            if write is not None and write.item is not None:
                row = connection.execute(
                    statements.insert_or_get, self._params(spec, kp, ks, write, 0)
                ).fetchone()
                if row is not None and row[0] is None:
                    return answer  # created
            for _ in range(MAX_ATTEMPTS):
                if row is None:
                    row = connection.execute(statements.get, (kp, ks)).fetchone()
                old = None if row is None else loads(row[0])
                write, answer = decide(old)
                if write is None:
                    return answer
                if row is None:  # the item is absent: create it, or learn who did
                    row = connection.execute(
                        statements.insert_or_get, self._params(spec, kp, ks, write, 0)
                    ).fetchone()
                    if row is not None and row[0] is None:
                        return answer
                    continue
                text = statements.update if write.item is not None else statements.delete
                changed = connection.execute(text, self._params(spec, kp, ks, write, row[2]))
                if (changed.fetchone() or (0,))[0]:
                    return answer
                row = None  # another process wrote it since: read it again
        raise TableUnavailable(
            f"an item of {spec.name} changed under {MAX_ATTEMPTS} writes in a row: retry"
        )

    def _transact(self, keys: list[ItemKey], decide: DecideAll) -> None:
        # One SERIALIZABLE transaction: the items are read in one snapshot, decided on, and
        # written compare-and-set on the revisions read; PostgreSQL aborts it (and it is decided
        # again) if anything it read or writes changed meanwhile, even an absent item created.
        # Single writes stay one autocommit statement each: they read and write one item, so
        # they serialize with a transaction whichever way they interleave.
        encoded = [(self._statements(spec), encode(pk), encode(sk)) for spec, pk, sk in keys]
        # Writes take row locks in one global order, so two transactions never deadlock.
        order = sorted(range(len(keys)), key=lambda i: (keys[i][0].name, *encoded[i][1:]))
        with self._connection() as connection:
            for _ in range(MAX_TRANSACTION_ATTEMPTS):
                canceled: TransactionCanceled | None = None
                try:
                    with connection.transaction():
                        with connection.pipeline():  # the reads in one round trip
                            connection.execute(_SERIALIZABLE)
                            reads = [
                                connection.execute(statements.get, (kp, ks))
                                for statements, kp, ks in encoded
                            ]
                        rows = [read.fetchone() for read in reads]
                        try:
                            writes = decide(
                                [None if row is None else loads(row[0]) for row in rows]
                            )
                        except TransactionCanceled as error:
                            # Committed, not rolled back: only a committed SERIALIZABLE read is
                            # sure to be a state the items really were in together.
                            canceled = error
                        else:
                            for i in order:
                                self._transact_one(
                                    connection, keys[i][0], encoded[i], writes[i], rows[i]
                                )
                except (errors.SerializationFailure, errors.DeadlockDetected, _Lost):
                    continue  # a serialization failure or a lost compare-and-set: decide again
                if canceled is not None:
                    raise canceled
                return
        raise TransactionCanceled(
            [
                {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
                for _ in keys
            ]
        )

    def _transact_one(
        self,
        connection: psycopg.Connection[Any],
        spec: Table,
        key: tuple[TableSql, bytes, bytes],
        write: Write | None,
        row: Any,
    ) -> None:
        """One write of a transaction, compare-and-set on the revision it was decided on."""
        statements, kp, ks = key
        if write is None:
            return  # a ConditionCheck, or a Delete of an absent item: its read is enough
        if row is None:
            created = connection.execute(
                statements.insert_or_get, self._params(spec, kp, ks, write, 0)
            ).fetchone()
            if created is None or created[0] is not None:
                raise _Lost
            return
        text = statements.update if write.item is not None else statements.delete
        changed = connection.execute(text, self._params(spec, kp, ks, write, row[2])).fetchone()
        if not (changed or (0,))[0]:
            raise _Lost

    @staticmethod
    def _params(spec: Table, pk: bytes, sk: bytes, write: Write, rev: int) -> dict[str, Any]:
        params: dict[str, Any] = {"pk": pk, "sk": sk, "rev": rev}
        if write.item is not None:
            params["item"] = dumps(write.item)
            params["size"] = write.size
            params["ttl"] = None if write.ttl is None else float(write.ttl)
        if spec.indexes:
            old = {name: (ipk, isk) for name, ipk, isk in write.old_index}
            new = {name: (ipk, isk) for name, ipk, isk in write.new_index}
            for i, gsi in enumerate(spec.indexes):
                before, after = old.get(gsi.name), new.get(gsi.name)
                if before == after:
                    before = after = None  # the entry stays as it is
                params[f"o{i}"] = None if before is None else encode(before[0])
                params[f"o{i}s"] = None if before is None else encode(before[1])
                params[f"g{i}"] = None if after is None else encode(after[0])
                params[f"g{i}s"] = None if after is None else encode(after[1])
        return params

    def _index_number(self, spec: Table, index: GlobalIndex) -> int:
        return next(i for i, g in enumerate(spec.indexes) if g.name == index.name)

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
        number = None if index is None else self._index_number(spec, index)
        text, bounds = self._statements(spec).range(number, sort, forward, after is not None)
        params: list[Any] = [encode(pk), *bounds]
        if after is not None:
            params += [encode(after)] if index is None else [encode(v) for v in after]
        params.append(limit)
        with self._connection() as connection:
            rows = connection.execute(text, params).fetchall()
        return [(loads(item), size) for item, size in rows]

    def _scan(self, spec: Table, index: GlobalIndex | None, after: Any, limit: int) -> list[Record]:
        number = None if index is None else self._index_number(spec, index)
        text = self._statements(spec).scan(number, after is not None)
        params: list[Any] = [] if after is None else [encode(v) for v in after]
        params.append(limit)
        with self._connection() as connection:
            rows = connection.execute(text, params).fetchall()
        return [(loads(item), size) for item, size in rows]

    def _expiring(self, spec: Table, now: float) -> list[Item]:
        # ttl is a float copy of the exact number: look a second wider, the engine checks exactly.
        with self._connection() as connection:
            rows = connection.execute(
                self._statements(spec).expiring, (now - TTL_HORIZON_SECONDS - 1, now + 1)
            ).fetchall()
        return [loads(text) for (text,) in rows]

    def _close(self) -> None:
        self._pool.close()
