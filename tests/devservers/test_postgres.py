"""The throwaway PostgreSQL and the per-test database fixture."""

from __future__ import annotations

from pathlib import Path

import psycopg

from pizzabus.cli.cluster import throwaway_tables
from pizzabus.devservers.postgres import find_binaries
from tests.support.postgres import private_postgres


def test_a_throwaway_server_answers_survives_a_restart_and_leaves_nothing_behind() -> None:
    server = private_postgres()
    try:
        with psycopg.connect(server.dsn, autocommit=True) as connection:
            connection.execute("CREATE TABLE kept (n int)")
            connection.execute("INSERT INTO kept VALUES (7)")
        server.restart("immediate")
        with psycopg.connect(server.dsn) as connection:
            assert connection.execute("SELECT n FROM kept").fetchall() == [(7,)]
    finally:
        server.close()
    assert not server.root.exists()
    assert not server.running


def test_binaries_come_from_the_pgserver_package_when_installed() -> None:
    assert "pgserver" in str(find_binaries())


def test_each_test_gets_a_fresh_empty_database(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as connection:
        (name,) = connection.execute("SELECT current_database()").fetchone() or ("",)
        tables = connection.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
    assert name.startswith("pizzabus_test_")
    assert tables == (0,)


def test_the_clusters_throwaway_database_runs_without_durability(tmp_path: Path) -> None:
    with throwaway_tables(tmp_path) as dsn, psycopg.connect(dsn) as connection:
        settings = {
            name: connection.execute(f"SHOW {name}").fetchone()
            for name in ("fsync", "synchronous_commit", "full_page_writes")
        }
    assert settings == {
        "fsync": ("off",),
        "synchronous_commit": ("off",),
        "full_page_writes": ("off",),
    }
