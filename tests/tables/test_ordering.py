"""The SQLite store's key encoding sorts exactly as DynamoDB sorts key values."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from pizzabus.tables.ordering import encode, prefix_end
from pizzabus.tables.values import canonical_number

numbers = (
    st.decimals(allow_nan=False, allow_infinity=False, places=None)
    .filter(lambda d: d.is_zero() or -130 <= d.adjusted() <= 125)
    .map(
        lambda d: canonical_number(d.normalize() if len(d.as_tuple().digits) <= 38 else Decimal(0))
    )
)


@given(numbers, numbers)
def test_encoded_numbers_sort_numerically(a: Decimal, b: Decimal) -> None:
    assert (encode(a) < encode(b)) == (a < b)
    assert (encode(a) == encode(b)) == (a == b)


@given(st.text(), st.text())
def test_encoded_strings_sort_by_utf8_bytes_like_python_strings(a: str, b: str) -> None:
    surrogate_free = all(not 0xD800 <= ord(c) <= 0xDFFF for c in a + b)
    if surrogate_free:
        assert (encode(a) < encode(b)) == (a < b)


@given(st.binary(min_size=1), st.binary())
def test_prefix_end_bounds_exactly_the_strings_with_the_prefix(prefix: bytes, other: bytes) -> None:
    end = prefix_end(prefix)
    inside = other.startswith(prefix)
    below_end = end is None or other < end
    assert inside == (other >= prefix and below_end)
