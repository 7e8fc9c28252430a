"""Items as DynamoDB JSON text, for stores that keep bytes: ``{"n": {"N": "1.5"}}``.

Every value carries its type, so a ``Decimal`` stays exact, ``bytes`` stay bytes (base64, as in
DynamoDB's own JSON) and sets stay sets.
"""

from __future__ import annotations

import json
from base64 import b64decode, b64encode
from decimal import Decimal
from typing import Any

from pizzabus.tables.values import Item

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_loads = json.JSONDecoder().decode


def dumps(item: Item) -> str:
    """The item as DynamoDB JSON."""
    return _dumps({name: _tag(value) for name, value in item.items()})


def loads(text: str) -> Item:
    """The item back from :func:`dumps`."""
    return {name: _untag(value) for name, value in _loads(text).items()}


def _tag(value: Any) -> dict[str, Any]:
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is Decimal:
        return {"N": str(value)}
    if kind is bool:
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if kind is bytes:
        return {"B": b64encode(value).decode()}
    if kind is dict:
        return {"M": {k: _tag(v) for k, v in value.items()}}
    if kind is list:
        return {"L": [_tag(v) for v in value]}
    first = next(iter(value))
    if type(first) is str:
        return {"SS": sorted(value)}
    if type(first) is Decimal:
        return {"NS": [str(v) for v in value]}
    return {"BS": [b64encode(v).decode() for v in value]}


def _untag(tagged: dict[str, Any]) -> Any:
    ((kind, value),) = tagged.items()
    if kind == "S":
        return value
    if kind == "N":
        return Decimal(value)
    if kind == "BOOL":
        return value
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: _untag(v) for k, v in value.items()}
    if kind == "L":
        return [_untag(v) for v in value]
    if kind == "B":
        return b64decode(value)
    if kind == "SS":
        return set(value)
    if kind == "NS":
        return {Decimal(v) for v in value}
    return {b64decode(v) for v in value}
