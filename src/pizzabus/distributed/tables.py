"""The table store every process of a cluster shares, opened from its URL."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from pizzabus.errors import DefinitionError
from pizzabus.system import SystemDefinition
from pizzabus.tables.sqlite import SqliteTableStore
from pizzabus.tables.store import TableStore


def open_tables(url: str, definition: SystemDefinition) -> TableStore:
    """``postgresql://…`` (PostgreSQL, for several machines) or ``sqlite:///path`` (one
    machine: processes share the file), with the definition's tables created."""
    store: TableStore
    if url.startswith(("postgresql://", "postgres://")):
        store = _postgres(url)
    elif url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        store = SqliteTableStore(path)
    else:
        raise DefinitionError(
            f"--tables {url!r} is not a table store URL: give postgresql://USER@HOST/DB, or "
            "sqlite:///PATH for processes on one machine."
        )
    for table in definition.tables:
        store.create_table(table)
    return store


def _postgres(url: str) -> TableStore:
    try:
        module: Any = importlib.import_module("pizzabus.tables.postgres")
    except ImportError as error:
        raise DefinitionError(
            f"PostgreSQL tables are not available here ({error}); install them with "
            "pip install 'pizzabus[postgres]'."
        ) from error
    store: TableStore = module.PostgresTableStore(url)
    return store
