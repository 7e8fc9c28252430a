"""Request shapes: what a request's table, index, expressions and names decide, worked out once.

Handlers send the same few requests over and over, differing only in their values. For a query,
the parsed expressions, the key schema they are read against, which parts of the key condition
give the partition value and the sort range, the placeholders ``ExpressionAttributeValues`` must
define and the nodes whose values are checked depend only on the table, the index, the
expression texts and ``ExpressionAttributeNames``; for a conditional write, the same of its
ConditionExpression. The engine keeps them per shape once a request of that shape has passed
every check that does not depend on its values. A later request of the shape whose values define
exactly those placeholders then only binds and checks its values
(:func:`~pizzabus.tables.expressions.rebind`), in the order the full path checks them; any other
request takes the full path, so every error is found, and worded, as before.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pizzabus.system import GlobalIndex, KeyAttribute, Table
from pizzabus.tables.conditions import Checked, Compare, Condition, Env
from pizzabus.tables.errors import TableValidationError
from pizzabus.tables.expressions import (
    CONDITION,
    FILTER,
    KEY_CONDITION,
    PROJECTION,
    Parsed,
    bind,
    checks_of,
    parse_optional,
    rebind,
    values_of,
)
from pizzabus.tables.keys import KeyValue, SortRange, key_parts, key_values
from pizzabus.tables.requests import filter_avoids_keys, find_index, key_schema

#: Shapes kept per store and kind; past this, all are dropped at once (handlers use a
#: handful, but expression texts built at run time must not grow the cache without bound).
MAX_SHAPES = 512

Shape = TypeVar("Shape")


@dataclass(frozen=True, slots=True)
class QueryShape:
    """What a query's shape decides (see the module docstring)."""

    #: The table's definition it was worked out for.
    spec: Table
    index: GlobalIndex | None
    partition: KeyAttribute
    sort: KeyAttribute | None
    #: The partition key's ``=`` and the sort key's condition, if any.
    pk_part: Compare
    sort_part: Condition | None
    filter: Parsed | None
    projection: Parsed | None
    #: Exactly the placeholders ``ExpressionAttributeValues`` must define.
    values: frozenset[str]
    #: The nodes that check their values, each with its expression's kind, in binding order.
    checks: tuple[tuple[Checked, str], ...]


#: A query's shape, its bound values, its partition value and its sort range.
Bound = tuple[QueryShape, Env, KeyValue, SortRange | None]


def query_key(
    table: str,
    index: str | None,
    key_condition: str,
    filter: str | None,
    projection: str | None,
    names: Mapping[str, str] | None,
) -> Hashable:
    """The key of a query's shape. The same names in another order make another key, which
    costs only a second entry."""
    named = None if names is None else tuple(names.items())
    return (table, index, key_condition, filter, projection, named)


class _Shapes(Generic[Shape]):
    """Shapes by key. Thread-safe, as each operation on a dict is atomic."""

    def __init__(self) -> None:
        self._shapes: dict[Hashable, Shape] = {}

    def get(self, key: Hashable) -> Shape | None:
        try:
            return self._shapes.get(key)
        except TypeError:  # names that cannot be hashed; the full path says what is wrong
            return None

    def put(self, key: Hashable, shape: Shape) -> None:
        if len(self._shapes) >= MAX_SHAPES:
            self._shapes.clear()
        with suppress(TypeError):  # unhashable names: such a request always takes the full path
            self._shapes[key] = shape


class QueryShapes(_Shapes[QueryShape]):
    """Query shapes by :func:`query_key`."""

    def bind(
        self,
        key: Hashable,
        spec: Table,
        names: Mapping[str, str] | None,
        values: Mapping[str, Any] | None,
    ) -> Bound | None:
        """The query bound through its known shape; ``None`` if its shape is not known (for
        this definition of the table) or its values do not fit it: then :func:`prepare_query`
        does every check."""
        shape = self.get(key)
        if shape is None or shape.spec is not spec:
            return None
        env = rebind(names, values, shape.values, shape.checks)
        if env is None:
            return None
        pk, sort_range = key_values(
            shape.pk_part, shape.sort_part, env, shape.partition, shape.sort
        )
        return shape, env, pk, sort_range


#: A ConditionExpression parsed, the placeholders its values must be, the nodes it checks.
ConditionShape = tuple[Parsed, frozenset[str], tuple[tuple[Checked, str], ...]]


class ConditionShapes(_Shapes[ConditionShape]):
    """The ConditionExpressions of writes, with their names."""

    def bind(
        self,
        condition: str | None,
        names: Mapping[str, str] | None,
        values: Mapping[str, Any] | None,
    ) -> tuple[Parsed | None, Env]:
        """The write's condition parsed and bound, through its shape when it is known."""
        if condition is None or values is None:  # nothing to bind again, or no condition
            parsed = parse_optional(CONDITION, condition)
            return parsed, bind(names, values, parsed)
        key = (condition, None if names is None else tuple(names.items()))
        shape = self.get(key)
        if shape is not None:
            env = rebind(names, values, shape[1], shape[2])
            if env is not None:
                return shape[0], env
        parsed = parse_optional(CONDITION, condition)
        env = bind(names, values, parsed)
        if parsed is not None:
            self.put(key, (parsed, parsed.values, checks_of(parsed)))
        return parsed, env


def prepare_query(
    spec: Table,
    index: str | None,
    key_condition: str,
    filter: str | None,
    projection: str | None,
    names: Mapping[str, str] | None,
    values: Mapping[str, Any] | None,
) -> Bound:
    """A query bound the full way: every check that comes before its limit, in DynamoDB's
    order."""
    gsi = None if index is None else find_index(spec, index)
    partition, sort = key_schema(spec, gsi)
    parsed_key = parse_optional(KEY_CONDITION, key_condition)
    if parsed_key is None:
        raise TableValidationError(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified "
            "in the request."
        )
    parsed_filter = parse_optional(FILTER, filter)
    parsed_projection = parse_optional(PROJECTION, projection)
    env = bind(names, values, parsed_key, parsed_filter, parsed_projection)
    pk_part, sort_part = key_parts(parsed_key.root, env.names, partition, sort)
    pk, sort_range = key_values(pk_part, sort_part, env, partition, sort)
    if parsed_filter is not None:
        filter_avoids_keys(parsed_filter, env.names, partition, sort)
    used = (parsed_key, parsed_filter, parsed_projection)
    shape = QueryShape(
        spec,
        gsi,
        partition,
        sort,
        pk_part,
        sort_part,
        parsed_filter,
        parsed_projection,
        values_of(*used),
        checks_of(*used),
    )
    return shape, env, pk, sort_range
