"""The event stores keep what the bus accepted; the SQLite one keeps it across restarts."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pizzabus.bus.deadletters import DeadLetter
from pizzabus.bus.records import Delivery
from pizzabus.bus.sqlite_store import SqliteEventStore
from pizzabus.bus.store import EventStore, MemoryEventStore, StoredEvent
from pizzabus.functions.errors import FunctionError
from pizzabus.system import RetryPolicy, Target

TARGET = Target("cook_pizza", retry_policy=RetryPolicy(maximum_retry_attempts=7))


def targets(bus: str, rule: str, index: int) -> Target:
    return TARGET


def event(n: int, time: float = 100.0, archived: bool = True) -> StoredEvent:
    return StoredEvent(f"e{n}", "lab_event_bus", time, f'{{"n": {n}}}'.encode(), archived)


def delivery(stored: StoredEvent, rule: str = "r") -> Delivery:
    return Delivery(stored.id, stored.bus, rule, TARGET, stored.payload, stored.time)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    made: EventStore = (
        MemoryEventStore()
        if request.param == "memory"
        else SqliteEventStore(tmp_path / "events.sqlite3", targets)
    )
    yield made
    made.close()


def test_recorded_deliveries_are_pending_until_delivered(store: EventStore) -> None:
    first, second = event(1), event(2)
    store.record([first, second], [delivery(first), delivery(second)]).result()
    assert sorted(d.event_id for d in store.pending()) == ["e1", "e2"]
    store.delivered(delivery(first))
    assert [d.event_id for d in store.pending()] == ["e2"]


def test_a_dead_lettered_delivery_leaves_pending_and_keeps_its_error(store: EventStore) -> None:
    stored = event(1)
    failing = delivery(stored)
    store.record([stored], [failing]).result()
    failing.attempts, failing.last_error = 3, FunctionError("PizzaBurnt", "too hot")
    store.attempted(failing)
    letter = store.dead_lettered(
        failing,
        DeadLetter(
            "e1",
            "lab_event_bus",
            "r",
            "cook_pizza",
            stored.payload,
            3,
            "MaximumRetryAttemptsExceeded",
            "PizzaBurnt",
            "too hot",
            5.0,
        ),
    )
    assert store.pending() == []
    assert store.get(letter.id) == letter
    assert [x.id for x in store.list()] == [letter.id]
    assert store.remove(letter.id) is True
    assert store.remove(letter.id) is False
    assert store.list() == []


def test_the_archive_answers_a_time_window_in_order(store: EventStore) -> None:
    events = [event(n, time=float(n)) for n in range(10)]
    events.append(event(99, time=5.5, archived=False))
    store.record(events, []).result()
    assert [e.id for e in store.archived("lab_event_bus", 3.0, 6.0)] == ["e3", "e4", "e5"]
    assert store.archived("other_bus", 0, 100) == []
    assert store.expire("lab_event_bus", archived_before=5.0) == 5
    assert [e.id for e in store.archived("lab_event_bus", 0, 100)][:1] == ["e5"]


def test_accepted_deliveries_survive_a_restart_with_their_attempts(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    store = SqliteEventStore(path, targets)
    stored = event(1)
    pending = delivery(stored)
    store.record([stored], [pending]).result()
    pending.attempts, pending.last_error = 2, FunctionError("Sandbox.Timedout", "late")
    store.attempted(pending)
    store.close()

    reopened = SqliteEventStore(path, targets)
    [resumed] = reopened.pending()
    assert resumed.key == pending.key
    assert resumed.attempts == 2
    assert resumed.last_error is not None
    assert resumed.last_error.error_type == "Sandbox.Timedout"
    assert resumed.payload == stored.payload
    assert resumed.target == TARGET
    reopened.close()


def test_concurrent_records_share_commits(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.sqlite3", targets)

    def publish(base: int) -> None:
        for n in range(base, base + 100):
            stored = event(n)
            store.record([stored], [delivery(stored)]).result()

    threads = [threading.Thread(target=publish, args=(i * 1000,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.pending()) == 800
    assert store.commits < 800  # grouped: fewer fsyncs than events
    store.close()


def test_a_dead_letter_keeps_the_handlers_stack_trace(store: EventStore) -> None:
    stored = event(2)
    failing = delivery(stored)
    store.record([stored], [failing]).result()
    trace = ('  File "/var/task/cook_pizza.py", line 7, in lambda_handler', "    raise Burnt()")
    letter = store.dead_lettered(
        failing,
        DeadLetter(
            "e2", "lab_event_bus", "r", "cook_pizza", stored.payload, 1,
            "MaximumRetryAttemptsExceeded", "Burnt", "too hot", 5.0, stack_trace=trace,
        ),
    )  # fmt: skip
    assert store.get(letter.id) == letter
    assert store.list()[0].stack_trace == trace


def test_a_log_written_before_stack_traces_were_kept_opens_and_reads(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    with sqlite3.connect(path) as old:  # the dead_letters table as earlier versions made it
        old.execute(
            "CREATE TABLE dead_letters (id TEXT PRIMARY KEY, event_id TEXT NOT NULL, "
            "bus TEXT NOT NULL, rule TEXT NOT NULL, target TEXT NOT NULL, payload BLOB NOT NULL, "
            "attempts INTEGER NOT NULL, reason TEXT NOT NULL, error_type TEXT NOT NULL, "
            "error_message TEXT NOT NULL, at REAL NOT NULL)"
        )
        old.execute(
            "INSERT INTO dead_letters VALUES ('dl-1', 'e1', 'b', 'r', 't', x'7b7d', 2, "
            "'MaximumRetryAttemptsExceeded', 'Boom', 'boom', 1.0)"
        )
    old.close()
    store = SqliteEventStore(path, targets)
    try:
        (letter,) = store.list()
        assert (letter.id, letter.error_type, letter.stack_trace) == ("dl-1", "Boom", ())
    finally:
        store.close()
