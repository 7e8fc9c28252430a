"""Where the tables live in PostgreSQL, and creating them once, safely, from many processes.

Each definition table is one PostgreSQL table named after it (``order_timeline``); each global
index one more (``order_timeline__by_connection``); ``pizzabus_tables`` records each table's
definition, so a process can tell a changed key schema from a new table. Everything lives in
the schema the DSN names (``?schema=NAME``, default ``public``).

Creating is idempotent and serialized by a transaction-scoped advisory lock, so processes that
start at once take turns: the second finds what the first created.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from pizzabus.errors import DefinitionError
from pizzabus.system import GlobalIndex, Table
from pizzabus.tables.keys import describe_schema

#: PostgreSQL truncates identifiers past 63 bytes.
MAX_IDENTIFIER = 63
CATALOG = "pizzabus_tables"
#: Serializes table creation across processes (any constant; "pizzabus" in ASCII).
_LOCK_KEY = 0x70697A7A61627573


@dataclass(frozen=True)
class Address:
    """A DSN taken apart: what to pass to libpq, the schema, and what to print (no password)."""

    conninfo: str
    schema: str
    host: str
    port: str
    database: str
    user: str

    def describe(self) -> str:
        """``postgres@127.0.0.1:5432/orders`` (never the password)."""
        return f"{self.user}@{self.host}:{self.port}/{self.database}"


def parse_dsn(dsn: str) -> Address:
    """Read a ``postgresql://USER@HOST:PORT/DB[?schema=NAME]`` DSN (or a libpq key=value one).

    Raises ``ValueError`` naming what is wrong (without the password)."""
    schema = "public"
    conninfo = dsn
    if "://" in dsn:
        parts = urlsplit(dsn)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError(
                f"a PostgreSQL DSN starts with postgresql://, not {parts.scheme}:// "
                "(e.g. postgresql://postgres@127.0.0.1:5432/pizzabus)"
            )
        query = parse_qsl(parts.query, keep_blank_values=True)
        schema = next((v for k, v in query if k == "schema"), schema)
        kept = urlencode([(k, v) for k, v in query if k != "schema"])
        conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, kept, parts.fragment))
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as error:
        raise ValueError(f"not a PostgreSQL DSN: {_first_line(error)}") from None
    if not schema or len(schema.encode()) > MAX_IDENTIFIER:
        raise ValueError(f"schema name {schema!r} must have 1 to {MAX_IDENTIFIER} bytes")
    return Address(
        conninfo=conninfo,
        schema=schema,
        host=str(params.get("host") or "localhost"),
        port=str(params.get("port") or "5432"),
        database=str(params.get("dbname") or params.get("user") or "postgres"),
        user=str(params.get("user") or "(your OS user)"),
    )


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def table_name(spec: Table) -> str:
    """The PostgreSQL table of a definition table: its own name."""
    if len(spec.name.encode()) > MAX_IDENTIFIER:
        raise DefinitionError(
            f"table {spec.name!r} is longer than PostgreSQL's {MAX_IDENTIFIER}-byte names: "
            "shorten it in the definition to keep it on PostgreSQL"
        )
    return spec.name


def index_table_name(spec: Table, index: GlobalIndex) -> str:
    """The table of a global index: ``<table>__<index>``, shortened with a hash if too long."""
    name = f"{spec.name}__{index.name}"
    if len(name.encode()) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    return f"{name.encode()[: MAX_IDENTIFIER - 11].decode(errors='ignore')}_{digest}"


def spec_to_json(spec: Table) -> dict[str, Any]:
    """The definition as stored in the catalog."""

    def key(attribute: Any) -> Any:
        return None if attribute is None else [attribute.name, attribute.type]

    return {
        "name": spec.name,
        "partition_key": key(spec.partition_key),
        "sort_key": key(spec.sort_key),
        "indexes": [
            {"name": g.name, "partition_key": key(g.partition_key), "sort_key": key(g.sort_key)}
            for g in spec.indexes
        ],
        "ttl_attribute": spec.ttl_attribute,
    }


def spec_from_json(data: dict[str, Any]) -> Table:
    """The definition the catalog holds."""
    from pizzabus.system import KeyAttribute

    def key(value: Any) -> Any:
        return None if value is None else KeyAttribute(value[0], value[1])

    return Table(
        name=data["name"],
        partition_key=key(data["partition_key"]),
        sort_key=key(data["sort_key"]),
        indexes=tuple(
            GlobalIndex(g["name"], key(g["partition_key"]), key(g["sort_key"]))
            for g in data["indexes"]
        ),
        ttl_attribute=data["ttl_attribute"],
    )


def load_specs(connection: psycopg.Connection[Any], schema: str) -> dict[str, Table]:
    """The tables the catalog records (none if there is no catalog yet)."""
    exists = connection.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}".{CATALOG}',)
    ).fetchone()
    if not exists or not exists[0]:
        return {}
    rows = connection.execute(
        sql.SQL("SELECT spec::text FROM {}").format(sql.Identifier(schema, CATALOG))
    ).fetchall()
    specs = [spec_from_json(json.loads(text)) for (text,) in rows]
    return {spec.name: spec for spec in specs}


def ensure_table(
    connection: psycopg.Connection[Any], schema: str, spec: Table, where: str
) -> Table | None:
    """Create the table (and its index tables) if missing, or bring its indexes and TTL to
    ``spec``; answers the definition it had before (None if new). One transaction, under the
    advisory lock; the caller then backfills (see :func:`rebuild`) in the same transaction."""
    # Lost with a crash in the next fraction of a second at worst, and then made again at the
    # next start: not worth waiting for a flush of the catalog (it is most of a table's cost).
    connection.execute("SET LOCAL synchronous_commit = off")
    connection.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
    connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    catalog = sql.Identifier(schema, CATALOG)
    connection.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, spec jsonb NOT NULL)"
        ).format(catalog)
    )
    row = connection.execute(
        sql.SQL("SELECT spec::text FROM {} WHERE name = %s").format(catalog), (spec.name,)
    ).fetchone()
    previous = spec_from_json(json.loads(row[0])) if row else None
    if previous is not None and (previous.partition_key, previous.sort_key) != (
        spec.partition_key,
        spec.sort_key,
    ):
        raise DefinitionError(
            f"table {spec.name!r} already exists {where} keyed by "
            f"{describe_schema(previous.partition_key, previous.sort_key)}, but the definition "
            f"now keys it by {describe_schema(spec.partition_key, spec.sort_key)}. A table's "
            "key cannot change (nor can it on DynamoDB): drop the table in PostgreSQL (and its "
            f"row in {CATALOG}) to start afresh, or use another schema (?schema=NAME)"
        )
    items = sql.Identifier(schema, table_name(spec))
    connection.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (pk bytea NOT NULL, sk bytea NOT NULL, "
            "item jsonb NOT NULL, size integer NOT NULL, ttl double precision, "
            "rev bigint NOT NULL, PRIMARY KEY (pk, sk))"
        ).format(items)
    )
    connection.execute(
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (ttl) WHERE ttl IS NOT NULL").format(
            sql.Identifier(_short(f"{spec.name}__ttl")), items
        )
    )
    for gsi in spec.indexes:
        connection.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (pk bytea NOT NULL, sk bytea NOT NULL, "
                "item_pk bytea NOT NULL, item_sk bytea NOT NULL, "
                "PRIMARY KEY (pk, sk, item_pk, item_sk))"
            ).format(sql.Identifier(schema, index_table_name(spec, gsi)))
        )
    if previous is not None:
        kept = {index_table_name(spec, g) for g in spec.indexes}
        for gsi in previous.indexes:
            if index_table_name(previous, gsi) not in kept:
                connection.execute(
                    sql.SQL("DROP TABLE IF EXISTS {}").format(
                        sql.Identifier(schema, index_table_name(previous, gsi))
                    )
                )
    connection.execute(
        sql.SQL(
            "INSERT INTO {} (name, spec) VALUES (%s, %s::jsonb) "
            "ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec"
        ).format(catalog),
        (spec.name, json.dumps(spec_to_json(spec))),
    )
    return previous


def _short(name: str) -> str:
    if len(name.encode()) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    return f"{name.encode()[:50].decode(errors='ignore')}_{digest}"
