"""Binding a request's expressions to its ``ExpressionAttributeNames`` and ``Values``.

DynamoDB checks the placeholders of a request as a whole: each one used must be defined, each
one defined must be used by some expression of the request, and neither mapping may be empty.
:func:`bind` does the same, then checks the values that DynamoDB checks before it reads any item
(an ``attribute_type`` name, a ``begins_with`` prefix, ``BETWEEN`` bounds).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pizzabus.tables.conditions import Checked, Env
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
    "checks_of",
    "parse_optional",
    "rebind",
    "values_of",
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
    used = list(filter(None, expressions))  # a Parsed is never false
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
    if names is None:
        names = _EMPTY
    elif not names:
        raise TableValidationError("ExpressionAttributeNames must not be empty")
    if values is None:
        values = _EMPTY
    elif not values:
        raise TableValidationError("ExpressionAttributeValues must not be empty")
    # Subset tests on the key views allocate nothing; once each expression's placeholders are
    # known to be defined, a mapping holds an unused one exactly when it is longer than the
    # union of what the expressions use.
    names_keys, values_keys = names.keys(), values.keys()
    for expression in used:
        if not (names_keys >= expression.names and values_keys >= expression.values):
            _undefined(expression, names, values)
    if len(used) == 1:
        used_names, used_values = used[0].names, used[0].values
    else:
        used_names = frozenset().union(*(e.names for e in used))
        used_values = frozenset().union(*(e.values for e in used))
    if len(names) > len(used_names):
        _unused("ExpressionAttributeNames", names, used_names)
    if len(values) > len(used_values):
        _unused("ExpressionAttributeValues", values, used_values)
    bound = {}
    for key, value in values.items():
        bound[key] = normalize_value(value)
    env = Env(names, bound)
    for expression in used:
        for node in expression.checks:
            node.check(env, expression.kind)
    return env


def values_of(*expressions: Parsed | None) -> frozenset[str]:
    """The ``:values`` the expressions use: what ``ExpressionAttributeValues`` must define."""
    return frozenset().union(*(e.values for e in expressions if e is not None))


def checks_of(*expressions: Parsed | None) -> tuple[tuple[Checked, str], ...]:
    """The nodes :func:`bind` checks, each with its expression's kind, in the order it checks
    them."""
    return tuple((node, e.kind) for e in expressions if e is not None for node in e.checks)


def rebind(
    names: Mapping[str, str] | None,
    values: Mapping[str, Any] | None,
    used_values: frozenset[str],
    checks: tuple[tuple[Checked, str], ...],
) -> Env | None:
    """:func:`bind` again, for a request whose expressions :func:`bind` accepted before with
    these same ``names``; ``None`` unless ``values`` define exactly ``used_values``.

    Then each placeholder used is defined and each one defined is used, so what is left of
    :func:`bind` is what depends on the values: normalizing them and the checks, in the same
    order. Any other request must go through :func:`bind`, which finds what is wrong.
    """
    if not values or values.keys() != used_values:
        return None
    bound = {}
    for key, value in values.items():
        bound[key] = normalize_value(value)
    env = Env(_EMPTY if names is None else names, bound)
    for node, kind in checks:
        node.check(env, kind)
    return env


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
