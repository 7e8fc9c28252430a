"""Binding a request's expressions to its ``ExpressionAttributeNames`` and ``Values``.

DynamoDB checks the placeholders of a request as a whole: each one used must be defined, each
one defined must be used by some expression of the request, and neither mapping may be empty.
:func:`bind` does the same, then checks the values that DynamoDB checks before it reads any item
(an ``attribute_type`` name, a ``begins_with`` prefix, ``BETWEEN`` bounds).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pizzabus.tables.conditions import Env
from pizzabus.tables.errors import TableValidationError
from pizzabus.tables.expr_parser import (
    CONDITION,
    FILTER,
    KEY_CONDITION,
    PROJECTION,
    UPDATE,
    Parsed,
    parse,
)
from pizzabus.tables.values import normalize_value

__all__ = [
    "CONDITION",
    "FILTER",
    "KEY_CONDITION",
    "PROJECTION",
    "UPDATE",
    "Parsed",
    "bind",
    "parse_optional",
]

_EMPTY: Mapping[str, Any] = {}
NO_PLACEHOLDERS = Env(_EMPTY, _EMPTY)


def parse_optional(kind: str, text: str | None) -> Parsed | None:
    """``parse(kind, text)``, or ``None`` for an absent expression."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise TypeError(f"{kind} must be a string, got {type(text).__name__}")
    return parse(kind, text)


def bind(
    names: Mapping[str, str] | None,
    values: Mapping[str, Any] | None,
    *expressions: Parsed | None,
) -> Env:
    """The request's placeholders, checked against its expressions, values normalized."""
    used = [e for e in expressions if e is not None]
    if names is None and values is None:
        for expression in used:
            if expression.names or expression.values:
                _undefined(expression, {}, {})
            for node in expression.checks:
                node.check(NO_PLACEHOLDERS, expression.kind)
        return NO_PLACEHOLDERS
    if not used:
        which = "ExpressionAttributeNames" if names is not None else "ExpressionAttributeValues"
        raise TableValidationError(
            f"{which} can only be specified when using expressions (this request has none)"
        )
    names = _empty_check("ExpressionAttributeNames", names)
    values = _empty_check("ExpressionAttributeValues", values)
    for expression in used:
        if expression.names - names.keys() or expression.values - values.keys():
            _undefined(expression, names, values)
    if len(used) == 1:
        used_names, used_values = used[0].names, used[0].values
    else:
        used_names = frozenset().union(*(e.names for e in used))
        used_values = frozenset().union(*(e.values for e in used))
    if names.keys() - used_names:
        _unused("ExpressionAttributeNames", names, used_names)
    if values.keys() - used_values:
        _unused("ExpressionAttributeValues", values, used_values)
    env = Env(names, {k: normalize_value(v) for k, v in values.items()})
    for expression in used:
        for node in expression.checks:
            node.check(env, expression.kind)
    return env


def _empty_check(which: str, given: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if given is None:
        return _EMPTY
    if not given:
        raise TableValidationError(f"{which} must not be empty")
    return given


def _undefined(expression: Parsed, names: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    for name in sorted(expression.names):
        if name not in names:
            raise TableValidationError(
                f"Invalid {expression.kind}: An expression attribute name used in the document "
                f"path is not defined; attribute name: {name}"
            )
    for value in sorted(expression.values):
        if value not in values:
            raise TableValidationError(
                f"Invalid {expression.kind}: An expression attribute value used in expression is "
                f"not defined; attribute value: {value}"
            )


def _unused(which: str, given: Mapping[str, Any], used: frozenset[str]) -> None:
    unused = sorted(key for key in given if key not in used)
    if unused:
        keys = ", ".join(unused)
        raise TableValidationError(
            f"Value provided in {which} unused in expressions: keys: {{{keys}}}"
        )
