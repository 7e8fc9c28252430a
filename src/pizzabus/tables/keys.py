"""Key schemas: taking keys out of items and requests, and reading a KeyConditionExpression as
a partition value plus a sort-key range.

Key values are ``str`` (S), ``Decimal`` (N) or ``bytes`` (B). Within a partition, items are kept
in sort-key order: numbers by value, strings by their UTF-8 bytes, binaries by their bytes
(Python's own ordering of ``str`` by code point is the same as ordering by UTF-8 bytes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from pizzabus.system import GlobalIndex, KeyAttribute, Table
from pizzabus.tables.conditions import (
    And,
    BeginsWith,
    Between,
    Compare,
    Condition,
    Env,
    PathOperand,
    ValueRef,
)
from pizzabus.tables.errors import TableValidationError
from pizzabus.tables.values import Item, normalize_value, type_name

KeyValue = str | Decimal | bytes
#: DynamoDB's limits on the size of a partition key and of a sort key value.
PARTITION_KEY_BYTES = 2048
SORT_KEY_BYTES = 1024
_PYTHON_TYPES: dict[str, type] = {"S": str, "N": Decimal, "B": bytes}


@dataclass(frozen=True, slots=True)
class SortRange:
    """Which sort keys a query reads: bounds (inclusive or not) and/or a prefix."""

    low: KeyValue | None = None
    low_inclusive: bool = True
    high: KeyValue | None = None
    high_inclusive: bool = True
    prefix: str | bytes | None = None

    def __contains__(self, value: Any) -> bool:
        if self.low is not None and (
            value < self.low or (value == self.low and not self.low_inclusive)
        ):
            return False
        if self.high is not None and (
            value > self.high or (value == self.high and not self.high_inclusive)
        ):
            return False
        return self.prefix is None or bool(value.startswith(self.prefix))


def key_names(spec: Table) -> tuple[str, ...]:
    """The names of the table's key attributes."""
    if spec.sort_key is None:
        return (spec.partition_key.name,)
    return (spec.partition_key.name, spec.sort_key.name)


def _empty_key(name: str) -> TableValidationError:
    return TableValidationError(
        "One or more parameter values are not valid. The AttributeValue for a key attribute "
        f"cannot contain an empty string value. Key: {name}"
    )


def item_key(spec: Table, item: Item) -> tuple[KeyValue, KeyValue | None]:
    """The primary key of an item being written; DynamoDB's errors if it has none."""
    pk = _item_key_value(spec.partition_key, item, PARTITION_KEY_BYTES)
    if spec.sort_key is None:
        return pk, None
    return pk, _item_key_value(spec.sort_key, item, SORT_KEY_BYTES)


def _item_key_value(attribute: KeyAttribute, item: Item, limit: int) -> KeyValue:
    value: Any = item.get(attribute.name)
    if value is None:
        raise TableValidationError(
            f"One or more parameter values were invalid: Missing the key {attribute.name} in "
            "the item"
        )
    kind = type(value)
    if kind is not _PYTHON_TYPES[attribute.type]:
        raise TableValidationError(
            f"One or more parameter values were invalid: Type mismatch for key {attribute.name} "
            f"expected: {attribute.type} actual: {type_name(value)}"
        )
    if kind is Decimal:
        return cast(KeyValue, value)
    if not value:
        raise _empty_key(attribute.name)
    if len(value) > limit // 4 and _byte_size(value) > limit:
        what = (
            f"Size of hashkey has exceeded the maximum size limit of{limit} bytes"
            if limit == PARTITION_KEY_BYTES
            else f"Aggregated size of all range keys has exceeded the size limit of {limit} bytes"
        )
        raise TableValidationError(
            f"One or more parameter values were invalid: {what} (key {attribute.name})"
        )
    return cast(KeyValue, value)


def _byte_size(value: str | bytes) -> int:
    return len(value.encode()) if isinstance(value, str) else len(value)


def index_key(index: GlobalIndex, item: Item) -> tuple[KeyValue, KeyValue | None] | None:
    """The item's key in a global secondary index, or ``None`` if it is not in the index."""
    pk = _index_key_value(index, index.partition_key, item)
    if pk is None:
        return None
    if index.sort_key is None:
        return pk, None
    sk = _index_key_value(index, index.sort_key, item)
    return None if sk is None else (pk, sk)


def _index_key_value(index: GlobalIndex, attribute: KeyAttribute, item: Item) -> Any:
    value = item.get(attribute.name)
    if value is None:
        return None
    if type(value) is not _PYTHON_TYPES[attribute.type]:
        raise TableValidationError(
            f"One or more parameter values were invalid: Type mismatch for Index Key "
            f"{attribute.name} Expected: {attribute.type} Actual: {type_name(value)} "
            f"IndexName: {index.name}"
        )
    if not value and attribute.type != "N":
        raise TableValidationError(
            "One or more parameter values are not valid. A value specified for a secondary "
            "index key is not supported. The AttributeValue for a key attribute cannot contain "
            f"an empty string value. IndexName: {index.name}, IndexKey: {attribute.name}"
        )
    return value


def request_key(spec: Table, key: Mapping[str, Any]) -> tuple[Item, KeyValue, KeyValue | None]:
    """The ``Key`` of a GetItem, DeleteItem or UpdateItem: exactly the table's key attributes."""
    if not isinstance(key, Mapping):
        raise TypeError(f"Key must be a mapping of key attribute names to values, got {key!r}")
    names = key_names(spec)
    if len(key) != len(names) or any(name not in key for name in names):
        raise _schema_mismatch(spec, key)
    normalized = {name: normalize_value(key[name]) for name in names}
    for attribute in (spec.partition_key, spec.sort_key):
        if attribute is None:
            continue
        value = normalized[attribute.name]
        if type(value) is not _PYTHON_TYPES[attribute.type]:
            raise _schema_mismatch(spec, key)
        if not value and attribute.type != "N":
            raise _empty_key(attribute.name)
    pk = normalized[spec.partition_key.name]
    sk = normalized[spec.sort_key.name] if spec.sort_key else None
    return normalized, pk, sk


def describe_schema(partition: KeyAttribute, sort: KeyAttribute | None) -> str:
    parts = [f"{partition.name} ({partition.type})"]
    if sort is not None:
        parts.append(f"{sort.name} ({sort.type})")
    return " + ".join(parts)


def _schema_mismatch(spec: Table, key: Mapping[str, Any]) -> TableValidationError:
    given = ", ".join(f"{k} ({_given_type(v)})" for k, v in key.items()) or "nothing"
    return TableValidationError(
        "The provided key element does not match the schema (table "
        f"{spec.name} is keyed by {describe_schema(spec.partition_key, spec.sort_key)}; "
        f"the key given has {given})"
    )


def _given_type(value: Any) -> str:
    try:
        return type_name(normalize_value(value))
    except (TypeError, TableValidationError):
        return type(value).__name__


#: The partition key's ``=``, and the sort key's condition if there is one.
KeyParts = tuple[Compare, Condition | None]


def key_parts(
    condition: Condition,
    names: Mapping[str, str],
    partition: KeyAttribute,
    sort: KeyAttribute | None,
) -> KeyParts:
    """Read a KeyConditionExpression as DynamoDB does: ``pk = :v``, optionally AND one
    condition on the sort key. Which parts name the partition key and the sort key depends on
    the expression and the names alone; :func:`key_values` reads the values."""
    env = Env(names, {})
    parts = [condition]
    while any(isinstance(p, And) for p in parts):
        parts = [q for p in parts for q in ((p.left, p.right) if isinstance(p, And) else (p,))]
    by_name: dict[str, Condition] = {}
    for part in parts:
        name = _subject_name(part, env)
        if name in by_name:
            raise TableValidationError(
                "KeyConditionExpressions must only contain one condition per key"
            )
        by_name[name] = part
    if partition.name not in by_name:
        raise TableValidationError(f"Query condition missed key schema element: {partition.name}")
    extra = set(by_name) - {partition.name} - ({sort.name} if sort else set())
    if extra:
        if sort is not None and sort.name not in by_name:
            raise TableValidationError(f"Query condition missed key schema element: {sort.name}")
        raise TableValidationError("Query key condition not supported")
    pk_part = by_name[partition.name]
    if not isinstance(pk_part, Compare) or pk_part.op != "=":
        raise TableValidationError("Query key condition not supported")
    return pk_part, None if sort is None else by_name.get(sort.name)


def key_values(
    pk_part: Compare,
    sort_part: Condition | None,
    env: Env,
    partition: KeyAttribute,
    sort: KeyAttribute | None,
) -> tuple[KeyValue, SortRange | None]:
    """The partition value and the sort range that the parts of a key condition give with this
    request's values, which must match the key schema's types."""
    pk = _key_operand(pk_part.right, env, partition)
    if sort is None or sort_part is None:
        return pk, None
    return pk, _sort_range(sort_part, env, sort)


def _subject_name(part: Condition, env: Env) -> str:
    if isinstance(part, Compare | Between | BeginsWith):
        subject = part.left if isinstance(part, Compare) else part.subject
        if isinstance(subject, PathOperand) and len(subject.path.elements) == 1:
            return subject.path.top(env.names)
    raise TableValidationError("Query key condition not supported")


def _key_operand(operand: Any, env: Env, attribute: KeyAttribute) -> KeyValue:
    if not isinstance(operand, ValueRef):
        raise TableValidationError("Query key condition not supported")
    value: Any = env.values[operand.name]
    if type(value) is not _PYTHON_TYPES[attribute.type]:
        raise TableValidationError(
            "One or more parameter values were invalid: Condition parameter type does not match "
            f"schema type ({attribute.name} is {attribute.type}, {operand.name} is "
            f"{type_name(value)})"
        )
    if not value and attribute.type != "N":
        raise _empty_key(attribute.name)
    return cast(KeyValue, value)


def _sort_range(part: Condition, env: Env, sort: KeyAttribute) -> SortRange:
    if isinstance(part, Between):
        low = _key_operand(part.low, env, sort)
        high = _key_operand(part.high, env, sort)
        return SortRange(low=low, high=high)
    if isinstance(part, BeginsWith):
        if sort.type == "N":
            raise TableValidationError(
                "Invalid KeyConditionExpression: Incorrect operand type for operator or "
                "function; operator or function: begins_with, operand type: N"
            )
        prefix = _key_operand(part.prefix, env, sort)
        assert not isinstance(prefix, Decimal)
        return SortRange(prefix=prefix)
    assert isinstance(part, Compare)
    value = _key_operand(part.right, env, sort)
    if part.op == "=":
        return SortRange(low=value, high=value)
    if part.op in ("<", "<="):
        return SortRange(high=value, high_inclusive=part.op == "<=")
    if part.op in (">", ">="):
        return SortRange(low=value, low_inclusive=part.op == ">=")
    raise TableValidationError("Query key condition not supported")
