"""The checks and positions of a request, shared by every store: which index a request names,
where an ExclusiveStartKey says to resume, what the LastEvaluatedKey of a page is, and the limits
DynamoDB puts on a table definition and on ``Limit`` / ``Segment``.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from pizzabus.errors import DefinitionError
from pizzabus.system import GlobalIndex, KeyAttribute, Table
from pizzabus.tables.errors import TableValidationError
from pizzabus.tables.expressions import PROJECTION, Parsed
from pizzabus.tables.keys import KeyValue, SortRange, key_names
from pizzabus.tables.paths import check_no_overlap
from pizzabus.tables.values import Item, normalize_value

RETURN_VALUES = ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW")


def return_values_error(given: str, allowed: str) -> TableValidationError:
    if given not in RETURN_VALUES:
        return TableValidationError(
            f"1 validation error detected: Value '{given}' at 'returnValues' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(RETURN_VALUES)}]"
        )
    return TableValidationError(f"ReturnValues can only be {allowed}")


_TABLE_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def check_spec(spec: Table) -> None:
    if not 3 <= len(spec.name) <= 255 or not set(spec.name) <= _TABLE_NAME_CHARS:
        raise DefinitionError(
            f"table name {spec.name!r} is not valid on DynamoDB: use 3 to 255 characters "
            "among a-z, A-Z, 0-9, '_', '-' and '.'"
        )
    seen: set[str] = set()
    for gsi in spec.indexes:
        if gsi.name in seen:
            raise DefinitionError(f"table {spec.name!r} has two indexes named {gsi.name!r}")
        seen.add(gsi.name)
    for attribute in _key_attributes(spec):
        if attribute.type not in ("S", "N", "B"):
            raise DefinitionError(
                f"table {spec.name!r}: key attribute {attribute.name!r} has type "
                f"{attribute.type!r}; a key is S, N or B"
            )


def _key_attributes(spec: Table) -> Iterator[KeyAttribute]:
    yield spec.partition_key
    if spec.sort_key:
        yield spec.sort_key
    for gsi in spec.indexes:
        yield gsi.partition_key
        if gsi.sort_key:
            yield gsi.sort_key


def find_index(spec: Table, name: str | None) -> GlobalIndex | None:
    if name is None:
        return None
    for gsi in spec.indexes:
        if gsi.name == name:
            return gsi
    have = ", ".join(g.name for g in spec.indexes) or "none"
    raise TableValidationError(
        f"The table does not have the specified index: {name} (table {spec.name} has: {have})"
    )


def key_schema(spec: Table, gsi: GlobalIndex | None) -> tuple[KeyAttribute, KeyAttribute | None]:
    if gsi is None:
        return spec.partition_key, spec.sort_key
    return gsi.partition_key, gsi.sort_key


def projection_paths(parsed: Parsed, names: Mapping[str, str]) -> list[Any]:
    paths = [p.resolve(names) for p in parsed.root]
    check_no_overlap(PROJECTION, paths)
    return paths


def filter_avoids_keys(
    parsed: Parsed, names: Mapping[str, str], partition: KeyAttribute, sort: KeyAttribute | None
) -> None:
    for top in sorted(parsed.tops):
        name = names[top] if top.startswith("#") else top
        if name == partition.name or (sort is not None and name == sort.name):
            raise TableValidationError(
                "Filter Expression can only contain non-primary key attributes: Primary key "
                f"attribute: {name}"
            )


def check_limit(limit: int | None) -> None:
    if limit is not None and (type(limit) is not int or limit < 1):
        raise TableValidationError(
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
            "constraint: Member must have value greater than or equal to 1"
        )


def check_segments(segment: int, total: int) -> None:
    if not 1 <= total <= 1_000_000:
        raise TableValidationError(
            f"1 validation error detected: Value '{total}' at 'totalSegments' failed to satisfy "
            "constraint: Member must have value between 1 and 1000000"
        )
    if not 0 <= segment < total:
        raise TableValidationError(
            f"The Segment parameter is zero-based and must be less than parameter "
            f"TotalSegments: Segment: {segment} is out of bounds for TotalSegments: {total}"
        )


def segment_of(pk: KeyValue, total: int) -> int:
    raw = pk.encode() if isinstance(pk, str) else pk if isinstance(pk, bytes) else str(pk).encode()
    return zlib.crc32(raw) % total


def position(spec: Table, gsi: GlobalIndex | None, item: Item, *, within_partition: bool) -> Any:
    pk = item[spec.partition_key.name]
    sk = item[spec.sort_key.name] if spec.sort_key else None
    if gsi is None:
        return sk if within_partition else (pk, sk)
    ipk = item[gsi.partition_key.name]
    isk = item[gsi.sort_key.name] if gsi.sort_key else None
    return (isk, pk, sk) if within_partition else (ipk, isk, pk, sk)


def last_key(spec: Table, gsi: GlobalIndex | None, item: Item) -> Item:
    names = list(key_names(spec))
    if gsi is not None:
        names.append(gsi.partition_key.name)
        if gsi.sort_key:
            names.append(gsi.sort_key.name)
    return {name: item[name] for name in names}


def start_item(spec: Table, gsi: GlobalIndex | None, start_key: Mapping[str, Any]) -> Item:
    """The ExclusiveStartKey, checked: the table's key, plus the index's key for an index."""
    wanted = dict.fromkeys(key_names(spec))
    attributes = [spec.partition_key, spec.sort_key]
    if gsi is not None:
        attributes += [gsi.partition_key, gsi.sort_key]
    types = {a.name: a.type for a in attributes if a is not None}
    wanted.update(dict.fromkeys(types))
    invalid = TableValidationError(
        "The provided starting key is invalid: The provided key element does not match the "
        f"schema (expected exactly {', '.join(f'{n} ({t})' for n, t in types.items())})"
    )
    if not isinstance(start_key, Mapping) or set(start_key) != set(wanted):
        raise invalid
    item = {name: normalize_value(value) for name, value in start_key.items()}
    python = {"S": str, "N": Decimal, "B": bytes}
    if any(type(item[name]) is not python[kind] for name, kind in types.items()):
        raise invalid
    return item


def query_position(
    spec: Table,
    gsi: GlobalIndex | None,
    start_key: Mapping[str, Any],
    pk: KeyValue,
    sort_range: SortRange | None,
) -> Any:
    item = start_item(spec, gsi, start_key)
    partition, sort = key_schema(spec, gsi)
    outside = item[partition.name] != pk or (
        sort is not None and sort_range is not None and item[sort.name] not in sort_range
    )
    if outside:
        raise TableValidationError(
            "The provided starting key is outside query boundaries based on provided conditions"
        )
    return position(spec, gsi, item, within_partition=True)
