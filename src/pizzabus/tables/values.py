"""Attribute values: the Python shape of DynamoDB's types, and the rules DynamoDB applies to them.

| DynamoDB | stored as                          | accepted on input                         |
|----------|------------------------------------|-------------------------------------------|
| S        | ``str``                            | ``str``                                   |
| N        | ``Decimal`` (canonical, see below) | ``Decimal``, ``int``                      |
| B        | ``bytes``                          | ``bytes``, ``bytearray``, boto3 ``Binary`` |
| BOOL     | ``bool``                           | ``bool``                                  |
| NULL     | ``None``                           | ``None``                                  |
| L        | ``list``                           | ``list``, ``tuple``                       |
| M        | ``dict``                           | any ``Mapping`` with ``str`` keys          |
| SS/NS/BS | ``set``                            | any ``Set`` of one of S, N, B (non-empty)  |

Input is checked as boto3's ``TypeSerializer`` checks it (a ``float`` raises the same
``TypeError``), then as DynamoDB checks it (number range and precision, empty sets, nesting,
item size). Numbers are stored canonically, as DynamoDB returns them: ``Decimal("1.50")`` comes
back as ``Decimal("1.5")`` and ``Decimal("1E+2")`` as ``Decimal("100")``.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from decimal import Context, Decimal
from typing import Any

from boto3.dynamodb.types import Binary

from pizzabus.tables.errors import TableValidationError

Item = dict[str, Any]

#: DynamoDB's item size limit (400 KB).
MAX_ITEM_BYTES = 400 * 1024
MAX_DEPTH = 32

_WIDE = Context(prec=400, Emax=999_999, Emin=-999_999)
_LIMIT = 10**38
_ONE = Decimal(1)
_SCALARS = (str, Decimal, bool, bytes, type(None))
_SCALAR_TYPES = frozenset(_SCALARS)


def normalize_item(item: Mapping[str, Any]) -> tuple[Item, int]:
    """A private, canonical copy of ``item`` and its size in DynamoDB's accounting."""
    if type(item) is not dict and not isinstance(item, Mapping):
        raise TypeError(f"an item is a mapping of attribute names to values, got {item!r}")
    # Strings and canonical numbers, most of every item, are kept as they are: copy the whole
    # item at once, then replace what is not kept. A number takes (digits + 1) // 2 + 1 bytes.
    out: Item = dict(item)
    size = 0
    for name, value in item.items():
        if type(name) is not str:
            raise TableValidationError(
                f"One or more parameter values were invalid: attribute names must be strings, "
                f"got {name!r}"
            )
        kind = type(value)
        if kind is str:
            size += len(name) + (len(value) if value.isascii() else _utf8_len(value))
        elif kind is int and -_LIMIT < value < _LIMIT:
            out[name] = number = Decimal(value)
            size += len(name) + (number.adjusted() + 2) // 2 + 1
        elif (
            kind is Decimal
            and value.same_quantum(_ONE)
            and (value or not value.is_signed())
            and (magnitude := value.adjusted()) < 38
        ):
            size += len(name) + (magnitude + 2) // 2 + 1  # see _canonical_integer
        else:
            out[name], value_size = _normalize(value, 1)
            size += len(name) + value_size
    if size > MAX_ITEM_BYTES:
        raise TableValidationError(
            f"Item size has exceeded the maximum allowed size ({size} bytes > "
            f"{MAX_ITEM_BYTES}); store large payloads elsewhere and keep a reference"
        )
    return out, size


def normalize_value(value: Any) -> Any:
    """A private, canonical copy of one attribute value (for keys and expression values)."""
    kind = type(value)
    if kind is str and value.isascii():
        return value
    if kind is int and -_LIMIT < value < _LIMIT:
        return Decimal(value)
    return _normalize(value, 1)[0]


def _normalize(value: Any, depth: int) -> tuple[Any, int]:
    kind = type(value)
    if kind is str:
        return value, _utf8_len(value)
    if kind is Decimal:
        return _decimal(value)
    if kind is not bool and isinstance(value, int):
        number = canonical_number(value)
        return number, _number_size(number)
    if kind is bool or value is None:
        return value, 1
    if kind is bytes:
        return value, len(value)
    if kind is bytearray:
        return bytes(value), len(value)
    if kind is Binary:
        return bytes(value.value), len(value.value)
    if kind is float:
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    if depth > MAX_DEPTH:
        raise TableValidationError(
            f"Nesting Levels have exceeded supported limits (more than {MAX_DEPTH} levels)"
        )
    if isinstance(value, AbstractSet):
        return _normalize_set(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        size = 3
        for name, member in value.items():
            copy, member_size = _normalize(member, depth + 1)
            out[str(name)] = copy
            size += len(name) + member_size + 1
        return out, size
    if isinstance(value, list | tuple):
        items = []
        size = 3
        for member in value:
            copy, member_size = _normalize(member, depth + 1)
            items.append(copy)
            size += member_size + 1
        return items, size
    raise TypeError(f'Unsupported type "{type(value)}" for value "{value}"')


def _canonical_integer(value: Decimal) -> bool:
    """Whether ``value`` is an integer as DynamoDB stores it, without ``as_tuple`` (which builds
    a named tuple): exponent 0, no negative zero, at most 38 digits (a coefficient has no
    leading zeros, so it has ``adjusted() + 1`` digits)."""
    return bool(
        value.same_quantum(_ONE) and (value or not value.is_signed()) and value.adjusted() < 38
    )


def _decimal(value: Decimal) -> tuple[Decimal, int]:
    """:func:`canonical_number` of a ``Decimal`` and its size, reading its digits once: a
    number that is already canonical (every number read back from a table) is kept as is."""
    if _canonical_integer(value):
        return value, (value.adjusted() + 2) // 2 + 1
    _, digits, exponent = value.as_tuple()
    count = len(digits)
    # A fraction without trailing zeros is canonical too. A str exponent is infinity or NaN;
    # ``adjusted()`` of a finite number is exponent + count - 1.
    if (
        type(exponent) is int
        and exponent < 0
        and count <= 38
        and -130 <= exponent + count - 1 <= 125
        and digits[0]
        and digits[-1]
    ):
        return value, (count + 1) // 2 + 1
    number = canonical_number(value)
    return number, _number_size(number)


def _normalize_set(value: AbstractSet[Any]) -> tuple[set[Any], int]:
    if not value:
        # boto3 sends an empty set as an empty number set, which DynamoDB refuses.
        raise TableValidationError(
            "One or more parameter values were invalid: An number set  may not be empty"
        )
    first = next(iter(value))
    if isinstance(first, str) and all(isinstance(v, str) for v in value):
        return set(value), sum(_utf8_len(v) for v in value)
    if isinstance(first, bytes | bytearray | Binary) and all(
        isinstance(v, bytes | bytearray | Binary) for v in value
    ):
        members = {bytes(v.value) if isinstance(v, Binary) else bytes(v) for v in value}
        return members, sum(len(v) for v in members)
    if all(_is_number(v) for v in value):
        numbers = {canonical_number(v) for v in value}
        return numbers, sum(_number_size(n) for n in numbers)
    raise TypeError(f'Unsupported type "{type(value)}" for value "{value}"')


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def canonical_number(value: int | Decimal) -> Decimal:
    """``value`` as DynamoDB stores it, or a ValidationException for what it cannot store."""
    if type(value) is int and -_LIMIT < value < _LIMIT:
        return Decimal(value)  # the common case: exact, already canonical
    if type(value) is Decimal and value.is_finite():
        sign, digits, exponent = value.as_tuple()
        if len(digits) <= 38 and -130 <= value.adjusted() <= 125:
            if exponent == 0 and (digits[0] or not sign):
                return value  # an integer as DynamoDB writes it (zero without a sign)
            if isinstance(exponent, int) and exponent < 0 and digits[-1] and digits[0]:
                return value  # a fraction without trailing zeros
    number = Decimal(value)
    if not number.is_finite():
        raise TypeError("Infinity and NaN not supported")
    if number.is_zero():
        return Decimal(0)
    number = number.normalize(_WIDE)
    _, digits, exponent = number.as_tuple()
    if len(digits) > 38:
        raise TableValidationError(
            f"Attempting to store more than 38 significant digits in a Number ({value})"
        )
    magnitude = number.adjusted()
    if magnitude > 125:
        raise TableValidationError(
            "Number overflow. Attempting to store a number with magnitude larger than supported "
            f"range ({value}; the largest is 9.9999999999999999999999999999999999999E+125)"
        )
    if magnitude < -130:
        raise TableValidationError(
            "Number underflow. Attempting to store a number with magnitude smaller than "
            f"supported range ({value}; the smallest is 1E-130)"
        )
    if isinstance(exponent, int) and exponent > 0:
        number = number.quantize(_ONE, context=_WIDE)
    return number


def _number_size(number: Decimal) -> int:
    return (len(number.as_tuple().digits) + 1) // 2 + 1


def _utf8_len(text: str) -> int:
    if text.isascii():
        return len(text)
    try:
        return len(text.encode())
    except UnicodeEncodeError as error:
        raise TableValidationError(
            f"One or more parameter values were invalid: a string is not valid UTF-8 "
            f"({error.reason} at position {error.start})"
        ) from None


def type_name(value: Any) -> str:
    """DynamoDB's type descriptor of a stored value: ``S``, ``N``, ``B``, ``BOOL``, ``NULL``,
    ``L``, ``M``, ``SS``, ``NS`` or ``BS``."""
    kind = type(value)
    if kind is set:
        first = type(next(iter(value)))
        return "SS" if first is str else "NS" if first is Decimal else "BS"
    return _TYPE_NAMES[kind]


_TYPE_NAMES: dict[type, str] = {
    str: "S",
    Decimal: "N",
    bytes: "B",
    bool: "BOOL",
    type(None): "NULL",
    list: "L",
    dict: "M",
}

TYPE_NAMES = frozenset({"S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS"})


def same(a: Any, b: Any) -> bool:
    """DynamoDB equality: equal types and equal values (``True`` is not ``1``)."""
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if kind is dict:
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if kind is set:
        return type_name(a) == type_name(b) and bool(a == b)
    return bool(a == b)


def copy_value(value: Any) -> Any:
    """A copy that shares only immutable leaves with ``value``."""
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _SCALARS else copy_value(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _SCALARS else copy_value(v) for v in value]
    if kind is set:
        return set(value)
    return value


def copy_item(item: Item) -> Item:
    """A copy of a stored item that the caller may change freely."""
    # Most values are immutable leaves: a C-level copy, then only containers copied again.
    out = item.copy()
    for name, value in item.items():
        if type(value) not in _SCALAR_TYPES:
            out[name] = copy_value(value)
    return out
