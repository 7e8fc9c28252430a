"""Conditional writes stay atomic across processes sharing one PostgreSQL database.

Each worker is its own process (spawned: nothing shared but the database) with its own store,
as each ``pizzabus serve`` of a scaled-out system has.
"""

from __future__ import annotations

from multiprocessing.synchronize import Barrier
from typing import Any

from botocore.exceptions import ClientError

from pizzabus.sdk.dynamodb import DynamoDBResource
from pizzabus.tables.postgres import PostgresTableStore
from tests.support.processes import SPAWN, racing
from tests.tables.conftest import SPECS

RACERS = 6
INCREMENTERS = 4
INCREMENTS = 500


def _open(dsn: str) -> tuple[PostgresTableStore, Any]:
    store = PostgresTableStore(dsn)
    for spec in SPECS:
        store.create_table(spec)
    return store, DynamoDBResource(store).Table("users")


def _race_put(dsn: str, name: str, barrier: Barrier, wins: Any) -> None:
    store, users = _open(dsn)
    barrier.wait()
    try:
        users.put_item(
            Item={"user_id": "only", "owner": name},
            ConditionExpression="attribute_not_exists(user_id)",
        )
        wins.put(name)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    finally:
        store.close()


def _increment(dsn: str, barrier: Barrier, retries: Any) -> None:
    store, users = _open(dsn)
    barrier.wait()
    lost = 0
    try:
        for _ in range(INCREMENTS):
            while True:
                seen = users.get_item(Key={"user_id": "counter"})["Item"]["n"]
                try:
                    users.update_item(
                        Key={"user_id": "counter"},
                        UpdateExpression="SET n = :next",
                        ConditionExpression="n = :seen",
                        ExpressionAttributeValues={":seen": seen, ":next": seen + 1},
                    )
                    break
                except ClientError as error:
                    if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                        raise
                    lost += 1
    finally:
        store.close()
    retries.put(lost)


def test_processes_racing_a_conditional_put_have_exactly_one_winner(
    postgres_schema_dsn: str,
) -> None:
    barrier, wins = SPAWN.Barrier(RACERS), SPAWN.Queue()
    _open(postgres_schema_dsn)[0].close()  # tables first: the race is on the item
    arguments = [(postgres_schema_dsn, f"p{i}", barrier, wins) for i in range(RACERS)]
    with racing(_race_put, arguments, timeout=100):
        pass
    winners = [wins.get(timeout=5)]
    assert wins.empty()

    store, users = _open(postgres_schema_dsn)
    assert users.get_item(Key={"user_id": "only"})["Item"]["owner"] == winners[0]
    store.close()


def test_concurrent_read_modify_write_increments_lose_no_update(postgres_schema_dsn: str) -> None:
    barrier, retries = SPAWN.Barrier(INCREMENTERS), SPAWN.Queue()
    store, users = _open(postgres_schema_dsn)
    users.put_item(Item={"user_id": "counter", "n": 0})
    arguments = [(postgres_schema_dsn, barrier, retries)] * INCREMENTERS
    with racing(_increment, arguments, timeout=300):
        pass

    assert users.get_item(Key={"user_id": "counter"})["Item"]["n"] == INCREMENTERS * INCREMENTS
    # The workers really did overlap: some of their conditions failed and were retried.
    assert sum(retries.get(timeout=5) for _ in range(INCREMENTERS)) > 0
    store.close()
