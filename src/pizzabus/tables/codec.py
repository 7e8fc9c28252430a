"""Items as DynamoDB JSON text, for stores that keep bytes: ``{"n": {"N": "1.5"}}``.

Every value carries its type, so a ``Decimal`` stays exact, ``bytes`` stay bytes (base64, as in
DynamoDB's own JSON) and sets stay sets.
"""

from __future__ import annotations

import json
from base64 import b64decode, b64encode
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

from pizzabus.tables.values import Item

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_loads = json.JSONDecoder().decode


def dumps(item: Item) -> str:
    """The item as DynamoDB JSON."""
    # Strings and numbers, most of every item, are written here, as _dumps writes them (its
    # string encoder is the one it uses with ensure_ascii=False), which saves building a tagged
    # copy of the item; the rest goes through _dumps.
    parts = []
    for name, value in item.items():
        kind = type(value)
        if kind is str:
            tagged = '{"S":' + encode_basestring(value) + "}"
        elif kind is Decimal:
            tagged = '{"N":"' + str(value) + '"}'
        else:
            tagged = _dumps(_tag(value))
        parts.append(encode_basestring(name) + ":" + tagged)
    return "{" + ",".join(parts) + "}"


def loads(text: str) -> Item:
    """The item back from :func:`dumps`."""
    item = {}
    for name, tagged in _loads(text).items():
        ((kind, value),) = tagged.items()
        if kind == "S":
            item[name] = value
        elif kind == "N":
            item[name] = Decimal(value)
        else:
            item[name] = _untag(tagged)
    return item


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
