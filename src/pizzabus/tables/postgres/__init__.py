"""Tables on PostgreSQL: a store many processes (and ``psql``) share.

    schema.py       the DSN, table names, and creating tables once from many processes
    statements.py   each table's SQL, one statement per operation
    store.py        PostgresTableStore: the engine over those statements, compare-and-set

Needs the ``postgres`` extra: ``pip install 'pizzabus[postgres]'``.
"""

try:
    import psycopg  # noqa: F401
    import psycopg_pool  # noqa: F401
except ImportError as missing:  # pragma: no cover - the test extra installs both
    raise ImportError(
        f"tables on PostgreSQL need psycopg 3 and psycopg-pool ({missing.name} is missing): "
        "pip install 'pizzabus[postgres]'"
    ) from missing

from pizzabus.tables.postgres.store import PostgresTableStore

__all__ = ["PostgresTableStore"]
