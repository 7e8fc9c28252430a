"""DynamoDB's typed attribute values on the wire (``{"S": "x"}``, ``{"N": "1.5"}``, …), checked.

What arrives is checked as DynamoDB checks it, so a malformed value is a ValidationException
naming the attribute, never a server error. Numbers become ``Decimal``, binaries ``bytes``
(base64 on the wire), sets ``set``: the table store's own values.
"""

from __future__ import annotations

import binascii
from base64 import b64decode, b64encode
from decimal import Decimal, InvalidOperation
from typing import Any

from boto3.dynamodb.types import Binary

from pizzabus.awsapi.protocol import AwsError

_SCALARS = {"S", "N", "B", "BOOL", "NULL"}
_KINDS = _SCALARS | {"M", "L", "SS", "NS", "BS"}


def _invalid(where: str, why: str) -> AwsError:
    return AwsError(
        "ValidationException",
        f"Supplied AttributeValue is invalid at {where}: {why}; an AttributeValue has exactly "
        "one of S, N, B, BOOL, NULL, M, L, SS, NS, BS",
    )


def from_wire_item(value: Any, where: str) -> dict[str, Any]:
    """A map of attribute name → typed value (an item, a key, expression values)."""
    if not isinstance(value, dict):
        raise AwsError("SerializationException", f"{where} must be a map of attribute values")
    return {str(name): from_wire(tagged, f"{where}.{name}") for name, tagged in value.items()}


def from_wire(tagged: Any, where: str) -> Any:
    """One typed attribute value as the store's value."""
    if not isinstance(tagged, dict) or len(tagged) != 1:
        raise _invalid(where, "not a map with one type")
    ((kind, value),) = tagged.items()
    if kind not in _KINDS:
        raise _invalid(where, f"unknown type {kind!r}")
    try:
        return _decode(kind, value, where)
    except (TypeError, ValueError, InvalidOperation, binascii.Error, AttributeError):
        raise _invalid(where, f"{kind} value {value!r} is malformed") from None


def _decode(kind: str, value: Any, where: str) -> Any:
    if kind == "S":
        if not isinstance(value, str):
            raise TypeError
        return value
    if kind == "N":
        return _number(value)
    if kind == "BOOL":
        if not isinstance(value, bool):
            raise TypeError
        return value
    if kind == "NULL":
        if value is not True:
            raise ValueError
        return None
    if kind == "B":
        return b64decode(value, validate=True)
    if kind == "M":
        return from_wire_item(value, where)
    if kind == "L":
        if not isinstance(value, list):
            raise TypeError
        return [from_wire(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, list) or not value:
        raise _invalid(where, f"{kind} must be a non-empty list")
    if kind == "SS":
        if not all(isinstance(v, str) for v in value):
            raise TypeError
        return set(value)
    if kind == "NS":
        return {_number(v) for v in value}
    return {b64decode(v, validate=True) for v in value}


def _number(value: Any) -> Decimal:
    if not isinstance(value, str):
        raise TypeError
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError
    return number


def to_wire_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item (or key) of the store as typed values."""
    return {name: to_wire(value) for name, value in item.items()}


def to_wire(value: Any) -> dict[str, Any]:
    """One store value (or boto3's ``Binary``) as a typed attribute value."""
    if isinstance(value, Binary):
        value = value.value
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, Decimal | int):
        return {"N": str(value)}
    if value is None:
        return {"NULL": True}
    if isinstance(value, bytes):
        return {"B": b64encode(value).decode()}
    if isinstance(value, dict):
        return {"M": to_wire_item(value)}
    if isinstance(value, list):
        return {"L": [to_wire(v) for v in value]}
    members = [v.value if isinstance(v, Binary) else v for v in value]
    if all(isinstance(v, str) for v in members):
        return {"SS": sorted(members)}
    if all(isinstance(v, bytes) for v in members):
        return {"BS": [b64encode(v).decode() for v in members]}
    return {"NS": [str(v) for v in members]}
