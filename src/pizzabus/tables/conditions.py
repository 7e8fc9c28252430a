"""Condition trees (ConditionExpression, FilterExpression, KeyConditionExpression) and their
evaluation against an item.

The parser builds these nodes once per expression text; ``test(item, env)`` runs them against an
item. Comparisons follow DynamoDB: values of different types are never equal, ``<`` and friends
compare only two numbers, two strings (by UTF-8 bytes) or two binaries, and a path that leads
nowhere makes every comparison false except ``<>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from pizzabus.tables.errors import TableValidationError
from pizzabus.tables.paths import MISSING, Path
from pizzabus.tables.values import TYPE_NAMES, Item, same, type_name


@dataclass(slots=True)
class Env:
    """What one request binds an expression to: its names and values."""

    names: Mapping[str, str]
    values: Mapping[str, Any]


class Operand(Protocol):
    def value(self, item: Item, env: Env) -> Any: ...


class Condition(Protocol):
    def test(self, item: Item, env: Env) -> bool: ...


class Checked(Protocol):
    """A node whose ``:values`` DynamoDB validates before it looks at any item."""

    def check(self, env: Env, kind: str) -> None: ...


@dataclass(frozen=True, slots=True)
class PathOperand:
    path: Path

    def value(self, item: Item, env: Env) -> Any:
        return self.path.get(item, env.names)


@dataclass(frozen=True, slots=True)
class ValueRef:
    name: str

    def value(self, item: Item, env: Env) -> Any:
        return env.values[self.name]


@dataclass(frozen=True, slots=True)
class Size:
    path: Path

    def value(self, item: Item, env: Env) -> Any:
        found = self.path.get(item, env.names)
        if type(found) in _SIZED:
            return Decimal(len(found))
        return MISSING


_SIZED = (str, bytes, list, dict, set)
_ORDERED = (Decimal, str, bytes)


def _less(a: Any, b: Any) -> bool:
    return type(a) is type(b) and type(a) in _ORDERED and bool(a < b)


def _compare(op: str, a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return op == "<>"
    if op == "=":
        return same(a, b)
    if op == "<>":
        return not same(a, b)
    if type(a) is not type(b) or type(a) not in _ORDERED:
        return False
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def _operand_type_error(kind: str, op: str, value: Any) -> TableValidationError:
    return TableValidationError(
        f"Invalid {kind}: Incorrect operand type for operator or function; "
        f"operator or function: {op}, operand type: {type_name(value)}"
    )


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Operand
    right: Operand

    def test(self, item: Item, env: Env) -> bool:
        return _compare(self.op, self.left.value(item, env), self.right.value(item, env))

    def check(self, env: Env, kind: str) -> None:
        if self.op in ("=", "<>"):
            return
        for side in (self.left, self.right):
            if isinstance(side, ValueRef):
                value = env.values[side.name]
                if type(value) not in _ORDERED:
                    raise _operand_type_error(kind, self.op, value)


@dataclass(frozen=True, slots=True)
class Between:
    subject: Operand
    low: Operand
    high: Operand

    def test(self, item: Item, env: Env) -> bool:
        value = self.subject.value(item, env)
        low = self.low.value(item, env)
        high = self.high.value(item, env)
        return not _less(value, low) and not _less(high, value) and _orderable(value, low, high)

    def check(self, env: Env, kind: str) -> None:
        for side in (self.subject, self.low, self.high):
            if isinstance(side, ValueRef):
                value = env.values[side.name]
                if type(value) not in _ORDERED:
                    raise _operand_type_error(kind, "BETWEEN", value)
        if isinstance(self.low, ValueRef) and isinstance(self.high, ValueRef):
            low, high = env.values[self.low.name], env.values[self.high.name]
            # DynamoDB checks the bounds' types before their order, in these words.
            bounds = (
                f"lower bound operand: AttributeValue: {{{type_name(low)}:{low}}}, "
                f"upper bound operand: AttributeValue: {{{type_name(high)}:{high}}}"
            )
            if type(low) is not type(high):
                raise TableValidationError(
                    f"Invalid {kind}: The BETWEEN operator requires same data type for lower "
                    f"and upper bounds; {bounds}"
                )
            if _less(high, low):
                raise TableValidationError(
                    f"Invalid {kind}: The BETWEEN operator requires upper bound to be greater "
                    f"than or equal to lower bound; {bounds}"
                )


def _orderable(*values: Any) -> bool:
    kind = type(values[0])
    return kind in _ORDERED and all(type(v) is kind for v in values)


@dataclass(frozen=True, slots=True)
class In:
    subject: Operand
    options: tuple[Operand, ...]

    def test(self, item: Item, env: Env) -> bool:
        value = self.subject.value(item, env)
        if value is MISSING:
            return False
        return any(same(value, option.value(item, env)) for option in self.options)


@dataclass(frozen=True, slots=True)
class And:
    left: Condition
    right: Condition

    def test(self, item: Item, env: Env) -> bool:
        return self.left.test(item, env) and self.right.test(item, env)


@dataclass(frozen=True, slots=True)
class Or:
    left: Condition
    right: Condition

    def test(self, item: Item, env: Env) -> bool:
        return self.left.test(item, env) or self.right.test(item, env)


@dataclass(frozen=True, slots=True)
class Not:
    inner: Condition

    def test(self, item: Item, env: Env) -> bool:
        return not self.inner.test(item, env)


@dataclass(frozen=True, slots=True)
class Exists:
    """``attribute_exists(path)`` (``want=True``) or ``attribute_not_exists(path)``."""

    path: Path
    want: bool

    def test(self, item: Item, env: Env) -> bool:
        return (self.path.get(item, env.names) is not MISSING) is self.want


@dataclass(frozen=True, slots=True)
class TypeIs:
    """``attribute_type(path, :type)``."""

    path: Path
    type: Operand

    def test(self, item: Item, env: Env) -> bool:
        found = self.path.get(item, env.names)
        return found is not MISSING and type_name(found) == self.type.value(item, env)

    def check(self, env: Env, kind: str) -> None:
        if isinstance(self.type, ValueRef):
            wanted = env.values[self.type.name]
            if wanted not in TYPE_NAMES:
                raise TableValidationError(
                    f"Invalid {kind}: Invalid attribute type name found; type: {wanted}, "
                    "valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"
                )


@dataclass(frozen=True, slots=True)
class BeginsWith:
    subject: Operand
    prefix: Operand

    def test(self, item: Item, env: Env) -> bool:
        value = self.subject.value(item, env)
        prefix = self.prefix.value(item, env)
        kind = type(value)
        return kind is type(prefix) and kind in (str, bytes) and value.startswith(prefix)

    def check(self, env: Env, kind: str) -> None:
        if isinstance(self.prefix, ValueRef):
            prefix = env.values[self.prefix.name]
            if type(prefix) not in (str, bytes):
                raise _operand_type_error(kind, "begins_with", prefix)


@dataclass(frozen=True, slots=True)
class Contains:
    subject: Operand
    operand: Operand

    def test(self, item: Item, env: Env) -> bool:
        value = self.subject.value(item, env)
        wanted = self.operand.value(item, env)
        kind = type(value)
        if wanted is MISSING:
            return False
        if kind is str or kind is bytes:
            return type(wanted) is kind and wanted in value
        if kind is set:
            return type(wanted) is type(next(iter(value))) and wanted in value
        if kind is list:
            return any(same(member, wanted) for member in value)
        return False
