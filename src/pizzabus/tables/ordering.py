"""Key values as bytes that sort as DynamoDB sorts the values.

SQLite compares BLOBs with ``memcmp``, so storing keys in this encoding makes every query on a
partition an index range scan already in sort-key order:

* S: the UTF-8 bytes (DynamoDB orders strings by their UTF-8 bytes);
* B: the bytes themselves;
* N: a sign byte, then for non-zero numbers the decimal exponent and the significant digits,
  arranged (and, for negative numbers, complemented) so that byte order is numeric order.
"""

from __future__ import annotations

from decimal import Decimal

from pizzabus.tables.keys import KeyValue

_NEGATIVE, _ZERO, _POSITIVE = b"\x01", b"\x02", b"\x03"
_EXPONENT_BIAS = 1 << 15  # DynamoDB exponents are within ±130; this keeps them positive
_END_OF_NEGATIVE = b"\xff"  # sorts after every complemented digit, so -0.12 > -0.123


def encode(value: KeyValue | None) -> bytes:
    """The sortable bytes of a key value (``b""`` for the absent sort key of a table)."""
    if value is None:
        return b""
    if type(value) is str:
        return value.encode()
    if type(value) is bytes:
        return value
    assert isinstance(value, Decimal)
    return encode_number(value)


def encode_number(number: Decimal) -> bytes:
    """Bytes whose order is the numeric order of ``number`` (which must be finite)."""
    if number.is_zero():
        return _ZERO
    sign, digit_tuple, _ = number.as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    # number = 0.<digits> × 10**scale, with a non-zero first digit
    scale = number.adjusted() + 1
    if not sign:
        return _POSITIVE + (scale + _EXPONENT_BIAS).to_bytes(2, "big") + digits.encode()
    flipped = bytes(0x39 - ord(d) + 0x30 for d in digits)
    return _NEGATIVE + (_EXPONENT_BIAS - scale).to_bytes(2, "big") + flipped + _END_OF_NEGATIVE


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with ``prefix``
    (``None`` if there is none, i.e. the prefix is all ``0xff``)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])
