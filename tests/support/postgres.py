"""PostgreSQL for tests: a fresh database per test, on the server ``PIZZABUS_TEST_POSTGRES``
names, or on a throwaway server started once per session.

``PIZZABUS_TEST_POSTGRES`` (e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``) is how CI
and these machines share one server: each test gets a uniquely named database on it, dropped
afterwards, so runs never see each other's tables. Without it, the session starts its own
server (:mod:`pizzabus.devservers.postgres`). When neither works the tests fail with the reason:
they never skip silently.

Tests that stop or restart PostgreSQL must use :func:`private_postgres` (their own server),
never the shared one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from pizzabus.devservers.postgres import DevServerError, PostgresServer, start_postgres

ENVIRONMENT = "PIZZABUS_TEST_POSTGRES"
#: Throwaway servers survive a crash of PostgreSQL (commits reach its WAL), not of the machine.
#: Not ``THROWAWAY_SETTINGS``: tests crash their server (``restart("immediate")``) and expect
#: every answered commit to survive, which ``synchronous_commit=off`` does not promise.
FAST_SETTINGS = {"fsync": "off", "full_page_writes": "off"}


def with_database(dsn: str, database: str) -> str:
    """``dsn`` with its database replaced by ``database``."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def create_database(server_dsn: str) -> str:
    """Create a uniquely named database on the server; answers its DSN."""
    name = f"pizzabus_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_dsn, autocommit=True, connect_timeout=10) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return with_database(server_dsn, name)


def drop_database(server_dsn: str, dsn: str) -> None:
    """Drop a database :func:`create_database` made (ending its sessions first)."""
    name = urlsplit(dsn).path.lstrip("/")
    with psycopg.connect(server_dsn, autocommit=True, connect_timeout=10) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def private_postgres() -> PostgresServer:
    """A throwaway server of the caller's own, to stop and restart at will."""
    try:
        return start_postgres(settings=FAST_SETTINGS)
    except DevServerError as error:
        pytest.fail(f"cannot start a throwaway PostgreSQL: {error}", pytrace=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The DSN of a server on which tests may create databases."""
    named = os.environ.get(ENVIRONMENT)
    if named:
        try:
            psycopg.connect(named, connect_timeout=10).close()
        except psycopg.Error as error:
            pytest.fail(
                f"{ENVIRONMENT}={named} does not answer ({error}); start that server, or unset "
                f"{ENVIRONMENT} to let the tests start a throwaway one",
                pytrace=False,
            )
        yield named
        return
    server = private_postgres()
    try:
        yield server.dsn
    finally:
        server.close()


@pytest.fixture(scope="session")
def postgres_database(postgres_server: str) -> Iterator[str]:
    """One database for the session's schema-per-test stores, dropped at the end."""
    dsn = create_database(postgres_server)
    try:
        yield dsn
    finally:
        drop_database(postgres_server, dsn)


@pytest.fixture
def postgres_schema_dsn(postgres_database: str) -> Iterator[str]:
    """A DSN selecting a fresh schema (``?schema=``) for one test, dropped afterwards:
    cheaper than a database each, for suites that open a store per test."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{postgres_database}?schema={schema}"
    with psycopg.connect(postgres_database, autocommit=True, connect_timeout=10) as admin:
        admin.execute("SET synchronous_commit = off")
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def postgres_dsn(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    dsn = create_database(postgres_server)
    try:
        yield dsn
    finally:
        drop_database(postgres_server, dsn)


@pytest.fixture(scope="module")
def module_postgres_dsn(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database for a module's tests (e.g. one cluster they share), dropped
    afterwards."""
    dsn = create_database(postgres_server)
    try:
        yield dsn
    finally:
        drop_database(postgres_server, dsn)
