"""UpdateExpression actions (SET, REMOVE, ADD, DELETE) and how they change an item.

As in DynamoDB, every right-hand side is evaluated against the item *before* the update, then all
actions are applied; no two actions may touch overlapping paths, and none may touch a key
attribute.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any, Protocol

from pizzabus.tables.conditions import Env, Operand, ValueRef
from pizzabus.tables.errors import TableValidationError
from pizzabus.tables.paths import (
    MISSING,
    Path,
    Resolved,
    check_no_overlap,
    get_resolved,
    remove_value,
    set_value,
)
from pizzabus.tables.values import Item, canonical_number, copy_item, copy_value, type_name

_WIDE = Context(prec=400, Emax=999_999, Emin=-999_999)


def _wrong_type() -> TableValidationError:
    return TableValidationError("An operand in the update expression has an incorrect data type")


def _absent() -> TableValidationError:
    return TableValidationError(
        "The provided expression refers to an attribute that does not exist in the item"
    )


class ValueExpr(Protocol):
    def compute(self, item: Item, env: Env) -> Any: ...


@dataclass(frozen=True, slots=True)
class Term:
    """A path or ``:value`` on the right of ``=``; a path must exist."""

    operand: Operand

    def compute(self, item: Item, env: Env) -> Any:
        value = self.operand.value(item, env)
        if value is MISSING:
            raise _absent()
        return value


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """``a + b`` or ``a - b``: both numbers."""

    op: str
    left: ValueExpr
    right: ValueExpr

    def compute(self, item: Item, env: Env) -> Any:
        a = self.left.compute(item, env)
        b = self.right.compute(item, env)
        if type(a) is not Decimal or type(b) is not Decimal:
            raise _wrong_type()
        result = _WIDE.add(a, b) if self.op == "+" else _WIDE.subtract(a, b)
        return canonical_number(result)


@dataclass(frozen=True, slots=True)
class IfNotExists:
    path: Path
    fallback: ValueExpr

    def compute(self, item: Item, env: Env) -> Any:
        found = self.path.get(item, env.names)
        return self.fallback.compute(item, env) if found is MISSING else found


@dataclass(frozen=True, slots=True)
class ListAppend:
    first: ValueExpr
    second: ValueExpr

    def compute(self, item: Item, env: Env) -> Any:
        a = self.first.compute(item, env)
        b = self.second.compute(item, env)
        if type(a) is not list or type(b) is not list:
            raise _wrong_type()
        return [*a, *b]


@dataclass(frozen=True, slots=True)
class Update:
    """A parsed UpdateExpression."""

    sets: tuple[tuple[Path, ValueExpr], ...] = ()
    removes: tuple[Path, ...] = ()
    adds: tuple[tuple[Path, ValueRef], ...] = ()
    deletes: tuple[tuple[Path, ValueRef], ...] = ()

    def check(self, env: Env, kind: str) -> None:
        for _, ref in self.adds:
            value = env.values[ref.name]
            if type(value) is not Decimal and type(value) is not set:
                raise _action_type_error("ADD", value)
        for _, ref in self.deletes:
            value = env.values[ref.name]
            if type(value) is not set:
                raise _action_type_error("DELETE", value)

    def apply(self, old: Item, env: Env, keys: Collection[str]) -> tuple[Item, list[Resolved]]:
        """The item after the update, and the paths it changed (for ``UPDATED_*``)."""
        names = env.names
        sets = [(p.resolve(names), value.compute(old, env)) for p, value in self.sets]
        removes = [p.resolve(names) for p in self.removes]
        adds = [(p.resolve(names), env.values[ref.name]) for p, ref in self.adds]
        deletes = [(p.resolve(names), env.values[ref.name]) for p, ref in self.deletes]
        paths = [p for p, _ in sets] + removes + [p for p, _ in adds] + [p for p, _ in deletes]
        for path in paths:
            if path[0] in keys:
                raise TableValidationError(
                    f"One or more parameter values were invalid: Cannot update attribute "
                    f"{path[0]}. This attribute is part of the key"
                )
        check_no_overlap("UpdateExpression", paths)
        new = copy_item(old)
        for path, value in sets:
            set_value(new, path, copy_value(value))
        # Remove list elements from the highest index down, so indexes mean the original list.
        for path in sorted(removes, key=_index_order, reverse=True):
            remove_value(new, path)
        for path, value in adds:
            _add(new, path, value)
        for path, value in deletes:
            _delete(new, path, value)
        return new, paths


def _index_order(path: Resolved) -> tuple[int, ...]:
    return tuple(e if type(e) is int else -1 for e in path)


def _action_type_error(action: str, value: Any) -> TableValidationError:
    return TableValidationError(
        f"Invalid UpdateExpression: Incorrect operand type for operator or function; "
        f"operator: {action}, operand type: {type_name(value)}"
    )


def _add(item: Item, path: Resolved, value: Any) -> None:
    current = get_resolved(item, path)
    if current is MISSING:
        set_value(item, path, set(value) if type(value) is set else value)
    elif type(value) is Decimal and type(current) is Decimal:
        set_value(item, path, canonical_number(_WIDE.add(current, value)))
    elif type(value) is set and type(current) is set and type_name(value) == type_name(current):
        set_value(item, path, current | value)
    else:
        raise _wrong_type()


def _delete(item: Item, path: Resolved, value: Any) -> None:
    current = get_resolved(item, path)
    if current is MISSING:
        return
    if type(current) is not set or type_name(current) != type_name(value):
        raise _wrong_type()
    remaining = current - value
    if remaining:
        set_value(item, path, remaining)
    else:
        remove_value(item, path)
