"""Fixtures of the table contract suite: every test runs once per store (memory, SQLite,
PostgreSQL: a fresh schema per test, see ``tests/support/postgres.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pizzabus.sdk.dynamodb import DynamoDBResource, LocalTable
from pizzabus.system import GlobalIndex, KeyAttribute, Table
from pizzabus.tables import MemoryTableStore, SqliteTableStore, TableStore
from pizzabus.tables.postgres import PostgresTableStore

#: Items of a thread: one per (thread, seq), a GSI by author, expiring on ``expires_at``.
POSTS = Table(
    name="posts",
    partition_key=KeyAttribute("thread"),
    sort_key=KeyAttribute("seq", "N"),
    indexes=(GlobalIndex("by_author", KeyAttribute("author"), KeyAttribute("posted", "N")),),
    ttl_attribute="expires_at",
)
#: A table keyed by a partition key alone.
USERS = Table(name="users", partition_key=KeyAttribute("user_id"))
#: String sort keys (ordered by UTF-8 bytes) and a GSI with no sort key.
FILES = Table(
    name="files",
    partition_key=KeyAttribute("folder"),
    sort_key=KeyAttribute("path"),
    indexes=(GlobalIndex("by_hash", KeyAttribute("digest", "B")),),
)
SPECS = (POSTS, USERS, FILES)


KINDS = ("memory", "sqlite", "postgres")


def make_store(kind: str, tmp_path: Path, dsn: str | None = None) -> TableStore:
    if kind == "memory":
        return MemoryTableStore()
    if kind == "postgres":
        assert dsn is not None, "a PostgreSQL store needs the postgres_schema_dsn fixture"
        return PostgresTableStore(dsn)
    return SqliteTableStore(tmp_path / "data" / "tables.sqlite3")


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TableStore]:
    dsn = request.getfixturevalue("postgres_schema_dsn") if request.param == "postgres" else None
    created = make_store(request.param, tmp_path, dsn)
    for spec in SPECS:
        created.create_table(spec)
    yield created
    created.close()


@pytest.fixture
def dynamodb(store: TableStore) -> DynamoDBResource:
    return DynamoDBResource(store)


@pytest.fixture
def posts(dynamodb: DynamoDBResource) -> LocalTable:
    return dynamodb.Table("posts")


@pytest.fixture
def users(dynamodb: DynamoDBResource) -> LocalTable:
    return dynamodb.Table("users")


@pytest.fixture
def files(dynamodb: DynamoDBResource) -> LocalTable:
    return dynamodb.Table("files")
