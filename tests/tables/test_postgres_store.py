"""What only the PostgreSQL store has: a shared catalog, a server that can go away, a DSN."""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import replace
from decimal import Decimal

import psycopg
import pytest
from botocore.exceptions import ClientError

from pizzabus.devservers.postgres import free_port
from pizzabus.errors import DefinitionError
from pizzabus.sdk.dynamodb import DynamoDBResource
from pizzabus.system import KeyAttribute
from pizzabus.tables.errors import TableUnavailable
from pizzabus.tables.postgres import PostgresTableStore
from tests.support.postgres import private_postgres
from tests.tables.conftest import POSTS, SPECS, USERS

CREATORS = 4


def _create_all(dsn: str) -> None:
    store = PostgresTableStore(dsn)
    for spec in SPECS:
        store.create_table(spec)
    store.close()


def test_processes_starting_at_once_create_each_table_once(postgres_schema_dsn: str) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_create_all, args=(postgres_schema_dsn,)) for _ in range(CREATORS)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=100)
        assert worker.exitcode == 0

    database, _, schema = postgres_schema_dsn.partition("?schema=")
    with psycopg.connect(database) as connection:
        tables = {
            name
            for (name,) in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
            )
        }
    assert tables == {
        "pizzabus_tables",
        "posts",
        "posts__by_author",
        "users",
        "files",
        "files__by_hash",
    }


def test_a_second_store_on_the_same_database_sees_the_tables_and_items(
    postgres_schema_dsn: str,
) -> None:
    first = PostgresTableStore(postgres_schema_dsn)
    first.create_table(POSTS)
    DynamoDBResource(first).Table("posts").put_item(
        Item={"thread": "t", "seq": Decimal("1.5"), "author": "ann", "posted": 1, "b": b"\x00"}
    )

    second = PostgresTableStore(postgres_schema_dsn)

    assert second.describe("posts") == POSTS
    got = (
        DynamoDBResource(second).Table("posts").get_item(Key={"thread": "t", "seq": Decimal("1.5")})
    )
    assert got["Item"]["b"] == b"\x00"
    first.close()
    second.close()


def test_a_changed_key_is_refused_naming_the_database(postgres_schema_dsn: str) -> None:
    PostgresTableStore(postgres_schema_dsn).create_table(USERS)
    other = PostgresTableStore(postgres_schema_dsn)

    with pytest.raises(DefinitionError, match=r"in PostgreSQL at postgres@.*keyed by"):
        other.create_table(replace(USERS, partition_key=KeyAttribute("user_id", "N")))
    other.close()


@pytest.mark.parametrize(
    ("dsn", "says"),
    [
        (f"postgresql://postgres:s3cret@127.0.0.1:{free_port()}/orders", "127.0.0.1"),
        (f"postgresql://postgres:s3cret@127.0.0.1:{free_port()}/orders?schema=", "schema name"),
        ("http://postgres:s3cret@127.0.0.1/orders", "starts with postgresql://"),
    ],
    ids=["unreachable", "empty-schema", "not-postgresql"],
)
def test_a_store_that_cannot_connect_says_why_without_the_password(dsn: str, says: str) -> None:
    with pytest.raises(TableUnavailable) as raised:
        PostgresTableStore(dsn)

    assert says in raised.value.message
    assert "s3cret" not in raised.value.message


def test_calls_fail_retryably_while_the_server_is_gone_and_work_once_it_is_back() -> None:
    server = private_postgres()
    store = PostgresTableStore(server.dsn)
    try:
        store.create_table(USERS)
        users = DynamoDBResource(store).Table("users")
        users.put_item(Item={"user_id": "kept", "n": 1})

        # WHEN the server stops (every session is ended)
        server.stop("fast")

        # THEN a call raises the retryable error, and writes nothing
        with pytest.raises(ClientError) as raised:
            users.put_item(Item={"user_id": "lost", "n": 2})
        assert raised.value.response["Error"]["Code"] == "ServiceUnavailable"

        # AND once it is back, the pool reconnects and calls work again
        server.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                item = users.get_item(Key={"user_id": "kept"})["Item"]
                break
            except ClientError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert item == {"user_id": "kept", "n": 1}
        assert "Item" not in users.get_item(Key={"user_id": "lost"})
    finally:
        store.close()
        server.close()
