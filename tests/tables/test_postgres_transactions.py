"""TransactWriteItems stays all-or-nothing across processes sharing one PostgreSQL database.

Each worker is its own process (spawned: nothing shared but the database) with its own store,
as each ``pizzabus serve`` of a scaled-out system has. The invariants are checked on what
PostgreSQL holds, and while the workers run on what a reader sees (a scan of a small table is
one statement, so one snapshot).
"""

from __future__ import annotations

import random
import threading
from decimal import Decimal
from multiprocessing.synchronize import Barrier
from typing import Any

from pizzabus.tables import TransactionCanceled, TransactWrite
from pizzabus.tables.postgres import PostgresTableStore
from tests.support.processes import SPAWN, racing
from tests.tables.conftest import SPECS

RACERS = 6
TRANSFERRERS = 4
TRANSFERS = 60
START = Decimal(100)


def _open(dsn: str) -> PostgresTableStore:
    store = PostgresTableStore(dsn)
    for spec in SPECS:
        store.create_table(spec)
    return store


def _transfer(source: str, target: str, amount: Decimal) -> list[TransactWrite]:
    """Move ``amount`` from ``source`` to ``target``, only if ``source`` has it."""
    return [
        TransactWrite(
            "Update",
            "users",
            {"user_id": source},
            update="SET balance = balance - :x, moves = moves + :one",
            condition="balance >= :x",
            values={":x": amount, ":one": Decimal(1)},
        ),
        TransactWrite(
            "Update",
            "users",
            {"user_id": target},
            update="SET balance = balance + :x, moves = moves + :one",
            values={":x": amount, ":one": Decimal(1)},
        ),
    ]


def _transfers(dsn: str, seed: int, barrier: Barrier, results: Any) -> None:
    store = _open(dsn)
    chance = random.Random(seed)
    moved = Decimal(0)  # from a to b, by the transfers that happened
    done = refused = 0
    barrier.wait()
    try:
        for _ in range(TRANSFERS):
            amount = Decimal(chance.randint(1, 60))
            forward = chance.random() < 0.5
            source, target = ("a", "b") if forward else ("b", "a")
            try:
                store.transact_write(_transfer(source, target, amount))
            except TransactionCanceled as canceled:
                codes = [reason["Code"] for reason in canceled.reasons]
                assert codes == ["ConditionalCheckFailed", "None"], codes
                refused += 1
                continue
            done += 1
            moved += amount if forward else -amount
    finally:
        store.close()
    results.put((moved, done, refused))


def _claim(dsn: str, name: str, barrier: Barrier, results: Any) -> None:
    store = _open(dsn)
    barrier.wait()
    try:
        store.transact_write(
            [
                TransactWrite(
                    "ConditionCheck",
                    "users",
                    {"user_id": "door"},
                    condition="attribute_exists(user_id)",
                ),
                TransactWrite(
                    "Put",
                    "posts",
                    {"thread": "seat", "seq": Decimal(1), "author": name, "posted": 1},
                    condition="attribute_not_exists(thread)",
                ),
                TransactWrite("Put", "users", {"user_id": f"claimed-by-{name}"}),
            ]
        )
        results.put((name, ["won"]))
    except TransactionCanceled as canceled:
        results.put((name, [reason["Code"] for reason in canceled.reasons]))
    finally:
        store.close()


def test_concurrent_transfers_keep_the_sum_and_show_no_half_transfer(
    postgres_schema_dsn: str,
) -> None:
    barrier, results = SPAWN.Barrier(TRANSFERRERS + 1), SPAWN.Queue()
    store = _open(postgres_schema_dsn)
    for account in ("a", "b"):
        store.put_item("users", {"user_id": account, "balance": START, "moves": Decimal(0)})
    arguments = [(postgres_schema_dsn, i, barrier, results) for i in range(TRANSFERRERS)]
    seen = []
    with racing(_transfers, arguments, timeout=300) as workers:
        barrier.wait()
        while any(worker.is_alive() for worker in workers):
            accounts = store.scan("users").items
            seen.append(
                (sum(item["balance"] for item in accounts), {item["moves"] for item in accounts})
            )

    outcomes = [results.get(timeout=5) for _ in arguments]
    done = sum(outcome[1] for outcome in outcomes)
    a = store.get_item("users", {"user_id": "a"})
    b = store.get_item("users", {"user_id": "b"})
    assert a is not None
    assert b is not None
    assert a["balance"] == START - sum(outcome[0] for outcome in outcomes)
    assert b["balance"] == START + sum(outcome[0] for outcome in outcomes)
    assert a["moves"] == b["moves"] == done
    # Every snapshot a reader took held both halves of each transfer, or neither.
    assert seen
    assert all(total == 2 * START and len(moves) == 1 for total, moves in seen)
    # The workers really did overlap: both outcomes happened.
    assert done > 0
    assert sum(outcome[2] for outcome in outcomes) > 0
    store.close()


def test_processes_racing_a_transaction_have_exactly_one_winner_and_no_partial_write(
    postgres_schema_dsn: str,
) -> None:
    barrier, results = SPAWN.Barrier(RACERS), SPAWN.Queue()
    store = _open(postgres_schema_dsn)
    store.put_item("users", {"user_id": "door"})
    arguments = [(postgres_schema_dsn, f"p{i}", barrier, results) for i in range(RACERS)]
    with racing(_claim, arguments, timeout=100):
        pass

    outcomes = dict(results.get(timeout=5) for _ in arguments)
    winners = [name for name, codes in outcomes.items() if codes == ["won"]]
    assert len(winners) == 1
    (winner,) = winners
    losers = {name: codes for name, codes in outcomes.items() if name != winner}
    assert all(codes == ["None", "ConditionalCheckFailed", "None"] for codes in losers.values())
    seat = store.get_item("posts", {"thread": "seat", "seq": Decimal(1)})
    assert seat is not None
    assert seat["author"] == winner
    claims = [
        item["user_id"]
        for item in store.scan("users").items
        if item["user_id"].startswith("claimed-by-")
    ]
    assert claims == [f"claimed-by-{winner}"]
    # The index holds the winner's entry only: the losers' entries were never written.
    for name in outcomes:
        page = store.query(
            "posts", index="by_author", key_condition="author = :a", values={":a": name}
        )
        assert [item["thread"] for item in page.items] == (["seat"] if name == winner else [])
    store.close()


SKEW_ROUNDS = 40


def test_crossed_condition_checks_let_exactly_one_of_two_transactions_through(
    postgres_schema_dsn: str,
) -> None:
    # Each transaction checks that the other's item is absent and creates its own: both can
    # hold on what each read, but only one may happen (write skew, which a compare-and-set of
    # the written items alone would let through).
    stores = [_open(postgres_schema_dsn), _open(postgres_schema_dsn)]
    barrier = threading.Barrier(2)
    outcomes: list[list[bool]] = [[], []]

    def run(me: int) -> None:
        mine, theirs = f"x{me}", f"x{1 - me}"
        for round_ in range(SKEW_ROUNDS):
            barrier.wait()
            try:
                stores[me].transact_write(
                    [
                        TransactWrite(
                            "ConditionCheck",
                            "users",
                            {"user_id": f"{theirs}-{round_}"},
                            condition="attribute_not_exists(user_id)",
                        ),
                        TransactWrite("Put", "users", {"user_id": f"{mine}-{round_}"}),
                    ]
                )
                outcomes[me].append(True)
            except TransactionCanceled:
                outcomes[me].append(False)

    threads = [threading.Thread(target=run, args=(me,)) for me in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
        assert not thread.is_alive()

    assert [a + b for a, b in zip(*outcomes, strict=True)] == [1] * SKEW_ROUNDS
    for store in stores:
        store.close()
