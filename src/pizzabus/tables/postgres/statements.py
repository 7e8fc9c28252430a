"""The SQL of one table, built once: each write is a single statement (one round trip).

A write of an item and its index entries is one statement whose data-modifying ``WITH``
clauses run together, atomically; index entries change only if the item's own write happened
(``EXISTS (SELECT FROM w)``). Writes after a read are compare-and-set on the item's ``rev``:
they change nothing if another process wrote the item since it was read.

Parameters are named: ``pk``/``sk`` (the item's key bytes), ``item`` (DynamoDB JSON),
``size``, ``ttl``, ``rev`` (the revision read) and, per global index ``i``, ``g{i}`` and
``g{i}s`` (the new entry's key bytes, NULL for none) and ``o{i}``/``o{i}s`` (the old entry's).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql

from pizzabus.system import Table
from pizzabus.tables.keys import SortRange
from pizzabus.tables.ordering import encode, prefix_end
from pizzabus.tables.postgres.schema import index_table_name, table_name

_VALUES = "%(pk)s, %(sk)s, %(item)s::jsonb, %(size)s, %(ttl)s::float8"


@dataclass
class TableSql:
    """One table's statements (``bytes``: psycopg prepares each once per connection)."""

    items: sql.Composable
    indexes: list[sql.Composable]
    get: bytes = b""
    insert_or_get: bytes = b""
    update: bytes = b""
    delete: bytes = b""
    upsert: bytes = b""
    delete_blind: bytes = b""
    expiring: bytes = b""
    _ranges: dict[tuple[object, ...], bytes] = field(default_factory=dict)

    def range(
        self, index: int | None, sort: SortRange | None, forward: bool, after: bool
    ) -> tuple[bytes, list[bytes]]:
        """A query of one partition (of the table, or of index number ``index``): the statement,
        and the bound values of ``sort`` (the partition key, the position after, the limit
        follow them)."""
        bounds, values = _sort_bounds(sort)
        shape = (index, forward, after, *(b[0] for b in bounds))
        text = self._ranges.get(shape)
        if text is None:
            text = self._ranges[shape] = self._range_sql(index, bounds, forward, after)
        return text, values

    def scan(self, index: int | None, after: bool) -> bytes:
        """A scan in key order (``after``: strictly after a position)."""
        shape = ("scan", index, after)
        text = self._ranges.get(shape)
        if text is None:
            if index is None:
                where = " WHERE (pk, sk) > (%s, %s)" if after else ""
                query = f"SELECT item::text, size FROM {{}}{where} ORDER BY pk, sk LIMIT %s"
                composed = sql.SQL(query).format(self.items)
            else:
                where = " WHERE (e.pk, e.sk, e.item_pk, e.item_sk) > (%s, %s, %s, %s)"
                query = (
                    "SELECT i.item::text, i.size FROM {} e JOIN {} i "
                    "ON i.pk = e.item_pk AND i.sk = e.item_sk"
                    f"{where if after else ''} ORDER BY e.pk, e.sk, e.item_pk, e.item_sk LIMIT %s"
                )
                composed = sql.SQL(query).format(self.indexes[index], self.items)
            text = self._ranges[shape] = composed.as_string(None).encode()
        return text

    def _range_sql(
        self, index: int | None, bounds: list[tuple[str, bytes]], forward: bool, after: bool
    ) -> bytes:
        order = "ASC" if forward else "DESC"
        step = ">" if forward else "<"
        if index is None:
            where = "".join(f" AND sk {op} %s" for op, _ in bounds)
            if after:
                where += f" AND sk {step} %s"
            query = (
                f"SELECT item::text, size FROM {{}} WHERE pk = %s{where} "
                f"ORDER BY sk {order} LIMIT %s"
            )
            composed = sql.SQL(query).format(self.items)
        else:
            where = "".join(f" AND e.sk {op} %s" for op, _ in bounds)
            if after:
                where += f" AND (e.sk, e.item_pk, e.item_sk) {step} (%s, %s, %s)"
            query = (
                "SELECT i.item::text, i.size FROM {} e JOIN {} i "
                "ON i.pk = e.item_pk AND i.sk = e.item_sk "
                f"WHERE e.pk = %s{where} "
                f"ORDER BY e.sk {order}, e.item_pk {order}, e.item_sk {order} LIMIT %s"
            )
            composed = sql.SQL(query).format(self.indexes[index], self.items)
        return composed.as_string(None).encode()


def _sort_bounds(sort: SortRange | None) -> tuple[list[tuple[str, bytes]], list[bytes]]:
    if sort is None:
        return [], []
    bounds: list[tuple[str, bytes]] = []
    if sort.prefix is not None:
        start = encode(sort.prefix)
        bounds.append((">=", start))
        end = prefix_end(start)
        if end is not None:
            bounds.append(("<", end))
    if sort.low is not None:
        bounds.append((">=" if sort.low_inclusive else ">", encode(sort.low)))
    if sort.high is not None:
        bounds.append(("<=" if sort.high_inclusive else "<", encode(sort.high)))
    # Prefix and range never come together, so each shape's statement is one of a few.
    return bounds, [value for _, value in bounds]


def build(schema: str, spec: Table) -> TableSql:
    """The statements of ``spec``'s tables in ``schema``."""
    items = sql.Identifier(schema, table_name(spec))
    indexes: list[sql.Composable] = [
        sql.Identifier(schema, index_table_name(spec, g)) for g in spec.indexes
    ]
    out = TableSql(items, indexes)

    def text(template: str, *parts: sql.Composable) -> bytes:
        return sql.SQL(template).format(*parts).as_string(None).encode()

    def insert_entries(source: str) -> str:
        return "".join(
            f", n{i} AS (INSERT INTO {{}} (pk, sk, item_pk, item_sk) "
            f"SELECT %(g{i})s::bytea, %(g{i}s)s::bytea, %(pk)s, %(sk)s FROM {source} "
            f"WHERE %(g{i})s::bytea IS NOT NULL ON CONFLICT DO NOTHING)"
            for i in range(len(indexes))
        )

    def delete_entries(source: str) -> str:
        return "".join(
            f", d{i} AS (DELETE FROM {{}} WHERE pk = %(o{i})s::bytea AND sk = %(o{i}s)s::bytea "
            f"AND item_pk = %(pk)s AND item_sk = %(sk)s AND EXISTS (SELECT FROM {source}))"
            for i in range(len(indexes))
        )

    out.get = text("SELECT item::text, size, rev FROM {} WHERE pk = %s AND sk = %s", items)
    # Inserts if absent; else answers the item as it is (nothing: a writer raced, read again).
    out.insert_or_get = text(
        "WITH w AS (INSERT INTO {} (pk, sk, item, size, ttl, rev) "
        f"VALUES ({_VALUES}, 1) ON CONFLICT (pk, sk) DO NOTHING RETURNING rev)"
        + insert_entries("w")
        + " SELECT NULL::text, NULL::integer, rev FROM w UNION ALL "
        "SELECT item::text, size, rev FROM {} WHERE pk = %(pk)s AND sk = %(sk)s",
        items,
        *indexes,
        items,
    )
    out.update = text(
        "WITH w AS (UPDATE {} SET item = %(item)s::jsonb, size = %(size)s, "
        "ttl = %(ttl)s::float8, rev = rev + 1 "
        "WHERE pk = %(pk)s AND sk = %(sk)s AND rev = %(rev)s RETURNING rev)"
        + delete_entries("w")
        + insert_entries("w")
        + " SELECT count(*) FROM w",
        items,
        *indexes,
        *indexes,
    )
    out.delete = text(
        "WITH w AS (DELETE FROM {} WHERE pk = %(pk)s AND sk = %(sk)s AND rev = %(rev)s "
        "RETURNING rev)" + delete_entries("w") + " SELECT count(*) FROM w",
        items,
        *indexes,
    )
    # Without indexes, a write that reads nothing needs no revision.
    out.upsert = text(
        f"INSERT INTO {{}} AS t (pk, sk, item, size, ttl, rev) VALUES ({_VALUES}, 1) "
        "ON CONFLICT (pk, sk) DO UPDATE SET item = EXCLUDED.item, size = EXCLUDED.size, "
        "ttl = EXCLUDED.ttl, rev = t.rev + 1",
        items,
    )
    out.delete_blind = text("DELETE FROM {} WHERE pk = %s AND sk = %s", items)
    out.expiring = text("SELECT item::text FROM {} WHERE ttl BETWEEN %s AND %s", items)
    return out
