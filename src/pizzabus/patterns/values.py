"""Event leaf values in the one canonical form every matcher and index compares.

A leaf is a ``str``, a ``float`` (a JSON number that a double represents exactly, see
`representable`), a `BigNumber` (any other number: only its exact text can match), or one of
the literals `TRUE`, `FALSE`, `NULL`. Booleans and null are sentinels, never Python ``bool`` or
``None``, so ``true`` never equals ``1`` in a set or a dict, whether the event came as text or
as a dict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

#: Integers of at most this many digits are always exact doubles (2**53 has 16 digits).
_SAFE_INT_DIGITS: Final = 15


class JsonLiteral:
    """``true``, ``false`` or ``null``: equal only to itself."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


TRUE: Final = JsonLiteral("true")
FALSE: Final = JsonLiteral("false")
NULL: Final = JsonLiteral("null")


@dataclass(frozen=True, slots=True)
class BigNumber:
    """A JSON number no double holds exactly; it can only equal the very same text."""

    text: str


Leaf = str | float | BigNumber | JsonLiteral


def representable(text: str) -> float | None:
    """The double of a JSON number text, or ``None`` if event-ruler cannot compare it.

    event-ruler (>= 1.8) compares a number only when ``BigDecimal(text)`` equals
    ``BigDecimal(Double.toString(d))``: the double must hold the written value exactly.
    """
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    if repr(value) == text:
        return value
    try:
        if Decimal(text) == Decimal(repr(value)):
            return value
    except InvalidOperation:
        return None
    return None


def number_leaf(text: str) -> float | BigNumber:
    """The leaf for a number written as ``text``."""
    if len(text) <= _SAFE_INT_DIGITS and "." not in text and "e" not in text and "E" not in text:
        return float(text)
    value = representable(text)
    return BigNumber(text) if value is None else value


def leaf_of(value: Any) -> Leaf | None:
    """The leaf for a Python scalar from a parsed event, or ``None`` if it is no JSON scalar."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is float:
        number: float = value
        return number if math.isfinite(number) else BigNumber(repr(number))
    if kind is bool:
        return TRUE if value else FALSE
    if value is None:
        return NULL
    if kind is int:
        if -(2**53) <= value <= 2**53:
            return float(value)
        return number_leaf(str(value))
    if kind is BigNumber:
        big: BigNumber = value
        return big
    if isinstance(value, str):
        return str(value)
    # (No subclass check for bool: bool cannot be subclassed, `kind is bool` took them all.)
    if isinstance(value, int):
        return number_leaf(str(int(value)))
    if isinstance(value, float):
        return leaf_of(float(value))
    return None
