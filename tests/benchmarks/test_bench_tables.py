"""The table benchmark replays the table calls the pizza handlers make (its timings are never
asserted)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

from benchmarks import bench_tables, common
from pizzabus.pizza.system import FUNCTIONS_DIR, SYSTEM
from pizzabus.tables import MemoryTableStore

#: What identifies a call's shape; values (ids, items, times) differ from order to order.
SHAPE_PARAMETERS = (
    "IndexName",
    "KeyConditionExpression",
    "ConditionExpression",
    "ExpressionAttributeNames",
    "ConsistentRead",
)
Call = tuple[str, str, tuple[Any, ...]]


class Recording:
    """A table that notes the shape of every call before making it."""

    def __init__(self, table: Any, calls: list[Call]) -> None:
        self._table, self._calls = table, calls

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        call = getattr(self._table, operation)

        def recorded(**params: Any) -> Any:
            shape = tuple((p, repr(params[p])) for p in SHAPE_PARAMETERS if p in params)
            self._calls.append((self._table.name, operation, shape))
            return call(**params)

        return recorded


def recorded_handlers(calls: list[Call]) -> bench_tables.Handlers:
    store = MemoryTableStore()
    for spec in SYSTEM.tables:
        store.create_table(spec)
    h = bench_tables.handlers(store)
    return bench_tables.Handlers(
        *(Recording(t, calls) for t in (h.connect, h.disconnect, h.connections, h.timeline))
    )


def load_orders() -> ModuleType:
    spec = importlib.util.spec_from_file_location("orders", FUNCTIONS_DIR / "orders.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Management:
    def post_to_connection(self, **_: Any) -> None:
        pass


def test_the_replay_makes_the_calls_the_handlers_make_for_one_order() -> None:
    replayed: list[Call] = []
    bench_tables.one_order(recorded_handlers(replayed), 1)

    made: list[Call] = []
    h = recorded_handlers(made)
    orders, management = load_orders(), Management()
    orders.remember_connection(h.connect, "o1", "c1")  # websocket_connect
    order_id = orders.order_of_connection(h.connections, "c1")  # receive_events: sync
    orders.push_pending(h.connections, h.timeline, management, order_id)
    for stage in orders.STAGES:  # receive_events: each stage event
        detail = {"item": {"order_id": "o1", "eventtype": stage}}
        orders.push_pending(
            h.connections, h.timeline, management, orders.record_stage(h.timeline, detail)
        )
    orders.forget_connection(h.disconnect, "c1")  # websocket_disconnect

    assert replayed == made
    assert len(made) == bench_tables.OPERATIONS_PER_ORDER


def test_the_smoke_run_writes_every_store_and_the_replay() -> None:
    assert bench_tables.main(["--smoke"]) == 0

    results = json.loads((common.RESULTS / "smoke" / "tables.json").read_text())
    assert set(results["stores"]) == {"memory", "sqlite", "postgres", "replay"}
    assert results["stores"]["memory"]["cpu_us_per_order"] > 0
