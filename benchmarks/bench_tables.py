"""CPU per table operation on the path the pizza handlers take: boto3's ``Table`` stand-in over
the memory store and over the SQLite store; and over PostgreSQL, wall time per operation beside
the bare round trips of the same server, measured in the same run.

Run ``python -m benchmarks.bench_tables`` (``--smoke`` for a few-second check). Results go to
``benchmarks/results/tables.json``.

Each order replays the table calls one order of the lab makes, with the call shapes of
``pizzabus/pizza/functions/orders.py`` (``tests/benchmarks/test_bench_tables.py`` checks that
the replay makes the calls the handlers make): ``$connect`` remembers the connection; the
client's ``sync`` finds its order through the ``by_connection`` index and looks for stages to
push (none yet); each of the four stages is recorded (a conditional put), then pushed: the
order's connections, the timeline, the lease put, the release put, and the timeline once more;
``$disconnect`` finds the connection's items and deletes them. That is 30 operations.
The tables come from ``boto3.resource("dynamodb").Table(name)`` of each function's own session,
as its handler gets them, grants checked.

Times are CPU time of this process (``time.process_time``): the machine is shared, and other
processes' load must not count. Each run opens fresh stores; the figure is the median of the runs.
The same replay over dict-backed stand-in tables gives the replay's own work; less that, the
rest is what the table path costs (``table µs/op``). ``--compare`` prints the ratio to an
earlier ``tables.json`` (e.g. one written from another checkout of ``src``, on ``PYTHONPATH``).

PostgreSQL (``--postgres DSN``, else ``PIZZABUS_TEST_POSTGRES``, else a throwaway server from
``pizzabus.devservers``; in its own database, dropped afterwards) is timed in wall time, as a
handler waits for it: each call shape's median beside the median of the bare round trip of its
kind on the same server, through the same driver, in the same run (``SELECT 1``; a keyed read;
a committed single-row upsert), before and after the store's own runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from benchmarks.common import machine, write_json
from pizzabus.contracts.identity import RuntimeIdentity
from pizzabus.pizza.system import CONNECTIONS_TABLE, SYSTEM, TIMELINE_TABLE
from pizzabus.sdk.boto3_shim import Session
from pizzabus.sdk.platform import Platform
from pizzabus.tables import MemoryTableStore, SqliteTableStore, TableStore

# Only for --store postgres (the postgres extra): imported on use.
_TEST_SERVER = "PIZZABUS_TEST_POSTGRES"

STAGES = ("make_pizza", "cook_pizza", "deliver_pizza", "delivered")
LEASE_SECONDS = 15
TTL_SECONDS = 24 * 3600
#: Operations one order makes: connect 1, sync 3, four stages of 6, disconnect 2.
OPERATIONS_PER_ORDER = 30
STORES = ("memory", "sqlite", "postgres")
#: Where the PostgreSQL store's database is (set by main when it runs).
_postgres: dict[str, str] = {}


@dataclass
class _Platform:
    """The part of the runtime a ``dynamodb`` resource reads: the identity and the store."""

    tables: TableStore
    identity: RuntimeIdentity


@dataclass
class Handlers:
    """The tables each handler module holds, from its own function's session."""

    connect: Any
    disconnect: Any
    connections: Any
    timeline: Any


def handlers(store: TableStore) -> Handlers:
    platform: Platform = _Platform(store, RuntimeIdentity())  # type: ignore[assignment]

    def table(function: str, name: str) -> Any:
        session = Session(platform, SYSTEM.function(function))
        return session.resource("dynamodb").Table(name)

    return Handlers(
        connect=table("websocket_connect", CONNECTIONS_TABLE),
        disconnect=table("websocket_disconnect", CONNECTIONS_TABLE),
        connections=table("receive_events", CONNECTIONS_TABLE),
        timeline=table("receive_events", TIMELINE_TABLE),
    )


class StandIn:
    """A table that only keeps items in dicts, trusting every call: replaying an order over
    these measures the replay's own work (what the handlers do besides the table calls)."""

    def __init__(self, partition: str, sort: str) -> None:
        self._partition, self._sort = partition, sort
        self._items: dict[Any, dict[Any, dict[str, Any]]] = {}

    def put_item(self, Item: dict[str, Any], **_: Any) -> dict[str, Any]:
        self._items.setdefault(Item[self._partition], {})[Item[self._sort]] = dict(Item)
        return {}

    def delete_item(self, Key: dict[str, Any]) -> dict[str, Any]:
        partition = self._items.get(Key[self._partition], {})
        partition.pop(Key[self._sort], None)
        if not partition:
            self._items.pop(Key[self._partition], None)
        return {}

    def query(self, ExpressionAttributeValues: dict[str, Any], **params: Any) -> dict[str, Any]:
        (value,) = ExpressionAttributeValues.values()
        if "IndexName" in params:  # by_connection: the items of one connection, any order
            items = [
                item
                for partition in self._items.values()
                for item in partition.values()
                if item["connection_id"] == value
            ]
        else:
            partition = self._items.get(value, {})
            items = [partition[key] for key in sorted(partition)]
        return {"Items": items, "Count": len(items)}


def stand_ins() -> Handlers:
    connections = StandIn("order_id", "connection_id")
    return Handlers(connections, connections, connections, StandIn("order_id", "seq"))


@contextmanager
def open_store(kind: str) -> Iterator[TableStore]:
    with tempfile.TemporaryDirectory(prefix="bench-tables-") as directory:
        store: TableStore
        if kind == "memory":
            store = MemoryTableStore()
        elif kind == "postgres":
            from pizzabus.tables.postgres import PostgresTableStore

            # A fresh schema per store, as the others start empty.
            store = PostgresTableStore(f"{_postgres['dsn']}?schema=run_{uuid.uuid4().hex[:8]}")
        else:
            store = SqliteTableStore(Path(directory) / "tables.sqlite3")
        for spec in SYSTEM.tables:
            store.create_table(spec)
        try:
            yield store
        finally:
            store.close()


# -- one order, as orders.py makes its calls ---------------------------------------------------


def _query_all(table: Any, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = table.query(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _connection_items(table: Any, connection_id: str) -> list[dict[str, Any]]:
    return _query_all(
        table,
        IndexName="by_connection",
        KeyConditionExpression="connection_id = :c",
        ExpressionAttributeValues={":c": connection_id},
    )


def _timeline_items(timeline: Any, order_id: str) -> list[dict[str, Any]]:
    return _query_all(
        timeline,
        KeyConditionExpression="order_id = :o",
        ExpressionAttributeValues={":o": order_id},
        ConsistentRead=True,
    )


def remember_connection(h: Handlers, order_id: str, connection_id: str) -> None:
    now = int(time.time())
    h.connect.put_item(
        Item={
            "order_id": order_id,
            "connection_id": connection_id,
            "sent": 0,
            "version": 0,
            "connected_at": now,
            "expires_at": now + TTL_SECONDS,
        }
    )


def record_stage(h: Handlers, detail: dict[str, Any]) -> None:
    item = detail["item"]
    try:
        h.timeline.put_item(
            Item={
                "order_id": item["order_id"],
                "seq": STAGES.index(item["eventtype"]) + 1,
                "eventtype": item["eventtype"],
                "detail": json.dumps(detail),
                "at": int(time.time() * 1000),
                "expires_at": int(time.time()) + TTL_SECONDS,
            },
            ConditionExpression="attribute_not_exists(seq)",
        )
    except ClientError as err:
        if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def push_pending(h: Handlers, order_id: str) -> None:
    connections = _query_all(
        h.connections,
        KeyConditionExpression="order_id = :o",
        ExpressionAttributeValues={":o": order_id},
    )
    for connection in connections:
        _push_connection(h, connection)


def _push_connection(h: Handlers, connection: dict[str, Any] | None) -> None:
    while True:
        if connection is None or int(connection.get("lease_until", 0)) > time.time():
            return
        sent = int(connection["sent"])
        items = _timeline_items(h.timeline, connection["order_id"])
        pending = [item for item in items if int(item["seq"]) > sent]
        if not pending:
            return
        version = int(connection["version"])
        held = dict(
            connection,
            version=version + 1,
            lease_until=int(time.time()) + LEASE_SECONDS,
            lease=uuid.uuid4().hex,
        )
        h.connections.put_item(
            Item=held,
            ConditionExpression="#version = :v",
            ExpressionAttributeNames={"#version": "version"},
            ExpressionAttributeValues={":v": version},
        )
        for item in pending:
            item["detail"].encode()  # what post_to_connection sends
        released = {k: v for k, v in held.items() if k not in ("lease", "lease_until")}
        released.update(sent=sent + len(pending), version=int(held["version"]) + 1)
        h.connections.put_item(
            Item=released,
            ConditionExpression="#version = :v AND #lease = :lease",
            ExpressionAttributeNames={"#version": "version", "#lease": "lease"},
            ExpressionAttributeValues={":v": int(held["version"]), ":lease": held["lease"]},
        )
        connection = released


def order_of_connection(h: Handlers, connection_id: str) -> str | None:
    items = _connection_items(h.connections, connection_id)
    return items[0]["order_id"] if items else None


def forget_connection(h: Handlers, connection_id: str) -> None:
    for item in _connection_items(h.disconnect, connection_id):
        h.disconnect.delete_item(Key={"order_id": item["order_id"], "connection_id": connection_id})


def one_order(h: Handlers, n: int) -> None:
    order_id = f"6f1c2a0e-2d7b-4a53-9d1c-{n:012d}"
    connection_id = f"Zx{n:010d}A="
    remember_connection(h, order_id, connection_id)
    found = order_of_connection(h, connection_id)  # the client's {"action": "sync"}
    assert found == order_id
    push_pending(h, order_id)
    detail: dict[str, Any] = {"item": {"order_id": order_id, "pizza": "margherita"}}
    for stage in STAGES:
        detail["item"]["eventtype"] = stage
        record_stage(h, detail)
        push_pending(h, order_id)
    forget_connection(h, connection_id)


# -- measuring ----------------------------------------------------------------------------------


def cpu_per_order(kind: str, orders: int, warmup: int) -> float:
    """CPU seconds per order over ``orders`` orders, on fresh stores."""
    with open_store(kind) as store:
        return _timed(handlers(store), orders, warmup)


def wall_per_order(kind: str, orders: int, warmup: int) -> float:
    """Wall seconds per order (what a handler waits), on fresh stores."""
    with open_store(kind) as store:
        return _timed(handlers(store), orders, warmup, time.perf_counter)


def _timed(
    h: Handlers, orders: int, warmup: int, clock: Callable[[], float] = time.process_time
) -> float:
    for n in range(warmup):
        one_order(h, -1 - n)
    start = clock()
    for n in range(orders):
        one_order(h, n)
    return (clock() - start) / orders


def _counted(
    h: Handlers, clock: Callable[[], float] = time.process_time
) -> tuple[Handlers, dict[str, list[float]]]:
    """``h`` with every call timed by its shape, for the per-operation table."""
    times: dict[str, list[float]] = {}

    class Timed:
        def __init__(self, table: Any, role: str) -> None:
            self._table, self._role = table, role

        def __getattr__(self, operation: str) -> Callable[..., Any]:
            call = getattr(self._table, operation)

            def timed(**params: Any) -> Any:
                shape = f"{self._role}.{operation}" + _shape(params)
                start = clock()
                try:
                    return call(**params)
                finally:
                    times.setdefault(shape, []).append(clock() - start)

            return timed

    return (
        Handlers(
            Timed(h.connect, "connections"),
            Timed(h.disconnect, "connections"),
            Timed(h.connections, "connections"),
            Timed(h.timeline, "timeline"),
        ),
        times,
    )


def _shape(params: dict[str, Any]) -> str:
    if "IndexName" in params:
        return f" ({params['IndexName']})"
    if "ConditionExpression" in params:
        return " (conditional)"
    return ""


def by_operation(
    kind: str, orders: int, warmup: int, clock: Callable[[], float] = time.process_time
) -> list[dict[str, Any]]:
    """Median µs (of ``clock``) of each call shape, timed one call at a time (timer overhead
    included)."""
    with open_store(kind) as store:
        h, times = _counted(handlers(store), clock)
        for n in range(warmup + orders):
            one_order(h, n)
    rows = []
    for shape, seconds in sorted(times.items()):
        kept = seconds[warmup * len(seconds) // (warmup + orders) :]
        rows.append(
            {
                "operation": shape,
                "per_order": round(len(seconds) / (warmup + orders), 1),
                "median_us": round(statistics.median(kept) * 1e6, 1),
            }
        )
    return rows


def round_trips(dsn: str, count: int) -> dict[str, float]:
    """Median wall µs of the bare round trips, through psycopg on one autocommit connection
    with prepared statements, on rows shaped like the store's (bytea key, jsonb item)."""
    import psycopg

    item = json.dumps({"order_id": {"S": "x" * 36}, "seq": {"N": "1"}, "detail": {"S": "y" * 200}})
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=0) as connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS bench_round_trip (k bytea PRIMARY KEY, v jsonb NOT NULL)"
        )
        connection.execute(
            "INSERT INTO bench_round_trip SELECT int4send(n), %s::jsonb "
            "FROM generate_series(0, 999) n ON CONFLICT DO NOTHING",
            (item,),
        )
        shapes: dict[str, tuple[bytes, Callable[[int], Sequence[Any]]]] = {
            "select_1": (b"SELECT 1", lambda n: ()),
            "keyed_read": (
                b"SELECT v::text FROM bench_round_trip WHERE k = int4send(%s)",
                lambda n: (n % 1000,),
            ),
            "committed_write": (
                b"INSERT INTO bench_round_trip (k, v) VALUES (int4send(%s), %s::jsonb) "
                b"ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                lambda n: (n % 1000, item),
            ),
        }
        medians: dict[str, float] = {}
        for name, (query, params) in shapes.items():
            samples = []
            for n in range(count):
                start = time.perf_counter()
                cursor = connection.execute(query, params(n))
                if cursor.description is not None:
                    cursor.fetchall()
                samples.append(time.perf_counter() - start)
            medians[name] = round(statistics.median(samples[count // 10 :]) * 1e6, 1)
    return medians


def _kind_of(operation: str) -> str:
    """The bare round trip an operation compares with."""
    return "keyed_read" if ".query" in operation or ".get_item" in operation else "committed_write"


def run_postgres(orders: int, runs: int, warmup: int) -> dict[str, Any]:
    """The PostgreSQL store in wall time, beside the bare round trips of the same run."""
    count = max(orders, 200)
    before = round_trips(_postgres["dsn"], count)
    samples = [wall_per_order("postgres", orders, warmup) for _ in range(runs)]
    cpu = statistics.median(cpu_per_order("postgres", orders, warmup) for _ in range(runs))
    operations = by_operation("postgres", orders, warmup, time.perf_counter)
    after = round_trips(_postgres["dsn"], count)
    bare = {name: round((before[name] + after[name]) / 2, 1) for name in before}
    for op in operations:
        kind = _kind_of(op["operation"])
        op["compared_with"] = kind
        op["x_round_trip"] = round(op["median_us"] / bare[kind], 2)
    per_order = statistics.median(samples)
    return {
        "orders": orders,
        "runs": runs,
        "operations_per_order": OPERATIONS_PER_ORDER,
        "wall_us_per_order": round(per_order * 1e6, 1),
        "wall_us_per_operation": round(per_order * 1e6 / OPERATIONS_PER_ORDER, 1),
        "cpu_us_per_order": round(cpu * 1e6, 1),
        "cpu_us_per_operation": round(cpu * 1e6 / OPERATIONS_PER_ORDER, 2),
        "runs_wall_us_per_order": [round(s * 1e6, 1) for s in samples],
        "round_trips_us": bare,
        "round_trips_before_after": {"before": before, "after": after},
        "by_operation": operations,
        "unit": "wall",
    }


def run(kinds: Sequence[str], orders: int, runs: int, warmup: int) -> dict[str, Any]:
    replay = statistics.median(_timed(stand_ins(), orders, warmup) for _ in range(runs))
    results: dict[str, Any] = {}
    for kind in kinds:
        if kind == "postgres":
            # A round trip each: fewer orders give as steady a median in reasonable time.
            results[kind] = run_postgres(max(orders // 5, 1), runs, max(warmup // 5, 1))
            continue
        samples = [cpu_per_order(kind, orders, warmup) for _ in range(runs)]
        per_order = statistics.median(samples)
        results[kind] = {
            "orders": orders,
            "runs": runs,
            "operations_per_order": OPERATIONS_PER_ORDER,
            "cpu_us_per_order": round(per_order * 1e6, 1),
            "cpu_us_per_operation": round(per_order * 1e6 / OPERATIONS_PER_ORDER, 2),
            # Less the replay's own work: what the table path costs.
            "table_us_per_operation": round((per_order - replay) * 1e6 / OPERATIONS_PER_ORDER, 2),
            "runs_cpu_us_per_order": [round(s * 1e6, 1) for s in samples],
            "by_operation": by_operation(kind, max(orders // 4, 1), warmup),
        }
    results["replay"] = {"orders": orders, "runs": runs, "cpu_us_per_order": round(replay * 1e6, 1)}
    return results


def _check_operation_count() -> None:
    with open_store("memory") as store:
        h, times = _counted(handlers(store))
        one_order(h, 0)
    made = sum(len(t) for t in times.values())
    if made != OPERATIONS_PER_ORDER:
        raise RuntimeError(f"an order made {made} table operations, not {OPERATIONS_PER_ORDER}")


def report(results: dict[str, Any], compare: dict[str, Any] | None) -> None:
    stores = {kind: row for kind, row in results.items() if kind in STORES and kind != "postgres"}
    print(f"{'store':<8} {'µs/order':>10} {'µs/op':>8} {'table µs/op':>12}")
    for kind, row in stores.items():
        line = (
            f"{kind:<8} {row['cpu_us_per_order']:>10.1f} {row['cpu_us_per_operation']:>8.2f} "
            f"{row['table_us_per_operation']:>12.2f}"
        )
        before = (compare or {}).get(kind)
        if before:
            ratio = before["cpu_us_per_order"] / row["cpu_us_per_order"]
            line += f"  (before {before['cpu_us_per_order']:.1f} µs/order: {ratio:.2f}×)"
        print(line)
    print(f"{'replay':<8} {results['replay']['cpu_us_per_order']:>10.1f}  (stand-in tables)")
    for kind, row in stores.items():
        print(f"\n{kind}: median µs per call, by call shape")
        for op in row["by_operation"]:
            print(f"  {op['operation']:<45} {op['per_order']:>4}/order {op['median_us']:>8.1f}")
    if "postgres" in results:
        _report_postgres(results["postgres"])


def _report_postgres(row: dict[str, Any]) -> None:
    bare = row["round_trips_us"]
    print(
        f"\npostgres: {row['wall_us_per_order']:.0f} µs/order wall "
        f"({row['wall_us_per_operation']:.0f} µs/op), {row['cpu_us_per_order']:.0f} µs/order CPU"
    )
    print(
        f"  bare round trips, same run: SELECT 1 {bare['select_1']:.0f} µs, keyed read "
        f"{bare['keyed_read']:.0f} µs, committed write {bare['committed_write']:.0f} µs"
    )
    print("  median wall µs per call, by call shape (× the bare round trip of its kind)")
    for op in row["by_operation"]:
        print(
            f"  {op['operation']:<45} {op['per_order']:>4}/order {op['median_us']:>8.1f}  "
            f"{op['x_round_trip']:.2f}× {op['compared_with']}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds, tiny sizes")
    parser.add_argument("--orders", type=int, default=1000, help="orders per run")
    parser.add_argument("--runs", type=int, default=5, help="runs per store (median reported)")
    parser.add_argument("--store", choices=STORES, action="append", help="only these stores")
    parser.add_argument("--compare", type=Path, help="an earlier tables.json to compare with")
    parser.add_argument(
        "--postgres",
        metavar="DSN",
        default=os.environ.get(_TEST_SERVER),
        help=f"a PostgreSQL server to make a database on (default ${_TEST_SERVER}, else a "
        "throwaway server)",
    )
    args = parser.parse_args(argv)
    orders, runs, warmup = (40, 1, 10) if args.smoke else (args.orders, args.runs, 100)
    _check_operation_count()
    kinds = args.store or STORES
    with _postgres_database(args.postgres if "postgres" in kinds else ""):
        results = run(kinds, orders, runs, warmup)
    compare = json.loads(args.compare.read_text())["stores"] if args.compare else None
    report(results, compare)
    data: dict[str, Any] = {"machine": machine(), "smoke": args.smoke, "stores": results}
    if compare is not None:
        data["before"] = {"source": str(args.compare), "stores": compare}
    print(f"\nwrote {write_json('tables', data, smoke=args.smoke)}")
    return 0


@contextmanager
def _postgres_database(server: str | None) -> Iterator[None]:
    """A database of its own for the run (on ``server``, else on a throwaway server)."""
    if server == "":
        yield
        return
    import psycopg

    from pizzabus.devservers.postgres import start_postgres

    throwaway = start_postgres() if server is None else None
    server = throwaway.dsn if throwaway is not None else str(server)
    name = f"bench_tables_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    base, _, _ = server.rpartition("/")
    _postgres["dsn"] = f"{base}/{name}"
    try:
        yield
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if throwaway is not None:
            throwaway.close()


if __name__ == "__main__":
    raise SystemExit(main())
