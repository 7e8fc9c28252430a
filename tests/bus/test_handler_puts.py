"""PutEvents from a handler running inline on the loop's thread does not wait for the disk, yet
nothing that depends on its events is kept or started before they are; a failed write stops
the durable log."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pizzabus.bus.bus import EventRouter
from pizzabus.bus.delivery import Deliverer
from pizzabus.bus.records import Delivery
from pizzabus.bus.sqlite_store import SqliteEventStore
from pizzabus.bus.store import StoredEvent
from pizzabus.clock import SystemClock
from pizzabus.contracts.identity import RuntimeIdentity
from pizzabus.contracts.invoker import Invocations
from pizzabus.system import EventBus, Rule, Target

BUS = EventBus(
    "orders",
    rules=(Rule("all_orders", {"source": ["shop"]}, (Target("cook"),)),),
)
ENTRY = {"Source": "shop", "DetailType": "order", "Detail": "{}", "EventBusName": "orders"}


class Wiring:
    def __init__(self, path: Path) -> None:
        self.path = path
        #: (function, whether the log already held the event when its delivery started)
        self.invoked: list[tuple[str, bool]] = []
        self.store = SqliteEventStore(path, lambda bus, rule, index: BUS.rules[0].targets[0])
        clock = SystemClock()
        self.deliverer = Deliverer(Invocations(self._invoke), clock=clock, store=self.store)
        self.router = EventRouter(
            (BUS,),
            identity=RuntimeIdentity(),
            clock=clock,
            store=self.store,
            deliverer=self.deliverer,
        )

    async def _invoke(self, function: str, payload: bytes) -> Any:
        self.invoked.append((function, self.logged() == 1))
        return None

    def logged(self) -> int:
        """How many events the log holds on disk, as another process would read them."""
        with sqlite3.connect(self.path) as reader:
            (count,) = reader.execute("SELECT count(*) FROM events").fetchone()
        return int(count)


@pytest.fixture
async def wiring(tmp_path: Path) -> AsyncIterator[Wiring]:
    made = Wiring(tmp_path / "events.sqlite3")
    loop = asyncio.get_running_loop()
    made.router.bind(loop)
    made.deliverer.bind(loop)
    yield made
    await made.deliverer.close()
    made.store.close()


async def test_an_inline_put_answers_at_once_and_delivers_once_the_log_has_it(
    wiring: Wiring,
) -> None:
    release = _hold_writer(wiring.store)
    response = wiring.router.put_events([ENTRY])  # on the loop's thread, as inline
    assert response["FailedEntryCount"] == 0  # answered while the writer is still held
    assert wiring.logged() == 0
    release.set()
    await _until(lambda: len(wiring.invoked) == 1)
    await wiring.deliverer.drain()
    assert wiring.invoked == [("cook", True)]  # its delivery started once the log had it
    assert wiring.store.pending() == []


async def test_a_put_from_another_thread_waits_for_the_log(wiring: Wiring) -> None:
    release = _hold_writer(wiring.store)

    def put() -> tuple[dict[str, Any], int]:
        response = wiring.router.put_events([ENTRY])
        return response, wiring.logged()  # what the log holds the moment the put answers

    answered = asyncio.get_running_loop().run_in_executor(None, put)
    release.set()
    response, logged_at_answer = await answered
    assert response["FailedEntryCount"] == 0
    assert logged_at_answer == 1  # a handler's own thread is answered only once it is logged
    await _until(lambda: len(wiring.invoked) == 1)
    assert wiring.invoked == [("cook", True)]


async def test_after_a_failed_write_the_log_keeps_nothing_more(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.sqlite3", lambda bus, rule, index: Target("f"))
    try:
        first = StoredEvent("e1", "orders", 1.0, b"{}", False)
        doomed = Delivery("e1", "orders", "r", Target("f"), b"{}", 1.0)

        def fail(connection: sqlite3.Connection) -> None:
            raise sqlite3.OperationalError("disk I/O error")

        store._submit(fail, durable=True)
        with pytest.raises(sqlite3.OperationalError):
            store.record([first], [doomed]).result(timeout=5)
        store.delivered(doomed)  # a lazy write after the failure is dropped too
        assert store.failure is not None
        with pytest.raises(sqlite3.OperationalError):
            store.flush()
    finally:
        store.close()  # after the failure: nothing to flush, the writer still stops
    reopened = SqliteEventStore(tmp_path / "events.sqlite3", lambda bus, rule, index: Target("f"))
    try:
        assert reopened.pending() == []  # nothing after the failure was written
    finally:
        reopened.close()


def _hold_writer(store: SqliteEventStore) -> threading.Event:
    """Keep the log's writer busy until the returned event is set."""
    gate = threading.Event()
    store._submit(lambda connection: gate.wait(10) and None)
    return gate


async def _until(condition: Any, timeout: float = 30.0) -> None:
    """Wait for ``condition``; the timeout is a failure guard only."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.01)
