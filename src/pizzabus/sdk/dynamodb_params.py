"""Parameter validation of the DynamoDB ``Table`` methods, as botocore does it before sending:
each operation's parameters and their kinds, the required ones, bounds, and the legacy
parameters pizzabus refuses with a pointer to their expression replacement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from boto3.dynamodb.conditions import ConditionBase
from botocore.exceptions import ParamValidationError

_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "s": ((str,), "<class 'str'>"),
    "e": ((str, ConditionBase), "<class 'str'>"),
    "m": ((Mapping,), "<class 'dict'>"),
    "b": ((bool,), "<class 'bool'>"),
    "i": ((int,), "<class 'int'>"),
    "l": ((list, tuple), "<class 'list'>, <class 'tuple'>"),
}


def _split(words: str) -> list[str]:
    return words.split()


#: Each operation's parameters in botocore's order, with their kinds (s string, e expression,
#: m map, b boolean, i integer, l list).
_PARAMS: dict[str, dict[str, str]] = {
    "PutItem": dict.fromkeys(
        _split(
            "TableName Item Expected ReturnValues ReturnConsumedCapacity "
            "ReturnItemCollectionMetrics ConditionalOperator ConditionExpression "
            "ExpressionAttributeNames ExpressionAttributeValues ReturnValuesOnConditionCheckFailure"
        ),
        "s",
    ),
    "GetItem": dict.fromkeys(
        _split(
            "TableName Key AttributesToGet ConsistentRead ReturnConsumedCapacity "
            "ProjectionExpression ExpressionAttributeNames"
        ),
        "s",
    ),
    "DeleteItem": dict.fromkeys(
        _split(
            "TableName Key Expected ConditionalOperator ReturnValues ReturnConsumedCapacity "
            "ReturnItemCollectionMetrics ConditionExpression ExpressionAttributeNames "
            "ExpressionAttributeValues ReturnValuesOnConditionCheckFailure"
        ),
        "s",
    ),
    "UpdateItem": dict.fromkeys(
        _split(
            "TableName Key AttributeUpdates Expected ConditionalOperator ReturnValues "
            "ReturnConsumedCapacity ReturnItemCollectionMetrics UpdateExpression "
            "ConditionExpression ExpressionAttributeNames ExpressionAttributeValues "
            "ReturnValuesOnConditionCheckFailure"
        ),
        "s",
    ),
    "Query": dict.fromkeys(
        _split(
            "TableName IndexName Select AttributesToGet Limit ConsistentRead KeyConditions "
            "QueryFilter ConditionalOperator ScanIndexForward ExclusiveStartKey "
            "ReturnConsumedCapacity ProjectionExpression FilterExpression KeyConditionExpression "
            "ExpressionAttributeNames ExpressionAttributeValues"
        ),
        "s",
    ),
    "Scan": dict.fromkeys(
        _split(
            "TableName IndexName AttributesToGet Limit Select ScanFilter ConditionalOperator "
            "ExclusiveStartKey ReturnConsumedCapacity TotalSegments Segment ProjectionExpression "
            "FilterExpression ExpressionAttributeNames ExpressionAttributeValues "
            "ConsistentRead"
        ),
        "s",
    ),
}
_KINDS = {
    **dict.fromkeys(
        _split(
            "Item Key Expected AttributeUpdates KeyConditions QueryFilter ScanFilter "
            "ExclusiveStartKey ExpressionAttributeNames ExpressionAttributeValues"
        ),
        "m",
    ),
    **dict.fromkeys(_split("ConditionExpression KeyConditionExpression FilterExpression"), "e"),
    **dict.fromkeys(_split("ConsistentRead ScanIndexForward"), "b"),
    **dict.fromkeys(_split("Limit TotalSegments Segment"), "i"),
    "AttributesToGet": "l",
}
for _members in _PARAMS.values():
    for _name in _members:
        _members[_name] = _KINDS.get(_name, "s")
_REQUIRED = {
    "PutItem": ("Item",),
    "GetItem": ("Key",),
    "DeleteItem": ("Key",),
    "UpdateItem": ("Key",),
    "Query": (),
    "Scan": (),
}
_MINIMUM = {"Limit": 1, "TotalSegments": 1, "Segment": 0}
_MIN_LENGTH = {"TableName": 1, "IndexName": 3}
_BOUNDED = frozenset({*_MINIMUM, *_MIN_LENGTH, "ExpressionAttributeNames"})
#: Exact types that pass a kind's check at once (subclasses take the full check).
_PLAIN_TYPES: dict[str | None, frozenset[type]] = {
    "s": frozenset({str}),
    "e": frozenset({str}),
    "m": frozenset({dict}),
    "b": frozenset({bool}),
    "i": frozenset({int}),
    "l": frozenset({list}),
    None: frozenset(),
}

#: Parameters of DynamoDB's legacy API, and what to write instead.
LEGACY = {
    "Expected": "write a ConditionExpression instead",
    "ConditionalOperator": "combine conditions with AND / OR in the expression instead",
    "AttributesToGet": "use a ProjectionExpression instead",
    "AttributeUpdates": "write an UpdateExpression instead",
    "KeyConditions": "write a KeyConditionExpression instead",
    "QueryFilter": "write a FilterExpression instead",
    "ScanFilter": "write a FilterExpression instead",
}


#: Each operation's parameters with the exact type that passes their kind's check at once.
_FAST: dict[str, dict[str, type]] = {
    operation: {name: next(iter(_PLAIN_TYPES[kind])) for name, kind in members.items()}
    for operation, members in _PARAMS.items()
}

#: The legacy parameters, as a set to test a request against at once.
LEGACY_NAMES = frozenset(LEGACY)
_ONLY_STR = frozenset({str})


def validate(operation: str, params: Mapping[str, Any]) -> None:
    """Raise ``ParamValidationError`` with botocore's report for what botocore refuses."""
    fast = _FAST[operation]
    for name, value in params.items():
        if fast.get(name) is not type(value) or (name in _BOUNDED and not _within(name, value)):
            break
    else:
        for name in _REQUIRED[operation]:
            if name not in params:
                break
        else:
            return  # the common case: every parameter known, well-typed and within bounds
    _validate(operation, params)


def _within(name: str, value: Any) -> bool:
    """Whether a parameter of its plain type is within its bounds (else the full check reports
    it)."""
    if name == "ExpressionAttributeNames":
        return _ONLY_STR.issuperset(map(type, value.values()))
    if name in _MINIMUM:
        return bool(value >= _MINIMUM[name])
    return len(value) >= _MIN_LENGTH[name]


def _validate(operation: str, params: Mapping[str, Any]) -> None:
    members = _PARAMS[operation]
    report = [
        f'Missing required parameter in input: "{name}"'
        for name in _REQUIRED[operation]
        if name not in params
    ]
    value: Any
    for name, value in params.items():
        kind = members.get(name)
        if type(value) in _PLAIN_TYPES[kind] and name not in _BOUNDED:
            continue  # the common case: a well-typed, unbounded parameter
        if kind is None:
            report.append(
                f'Unknown parameter in input: "{name}", must be one of: {", ".join(members)}'
            )
            continue
        types, shown = _TYPES[kind]
        if not _has_type(value, types) or (kind == "i" and isinstance(value, bool)):
            report.append(
                f"Invalid type for parameter {name}, value: {value}, type: {type(value)}, "
                f"valid types: {shown}"
            )
        elif name in _MINIMUM and value < _MINIMUM[name]:
            report.append(
                f"Invalid value for parameter {name}, value: {value}, valid min value: "
                f"{_MINIMUM[name]}"
            )
        elif name in _MIN_LENGTH and len(value) < _MIN_LENGTH[name]:
            report.append(
                f"Invalid length for parameter {name}, value: {len(value)}, valid min length: "
                f"{_MIN_LENGTH[name]}"
            )
        elif name == "ExpressionAttributeNames":
            report += [
                f"Invalid type for parameter ExpressionAttributeNames.{k}, value: {v}, type: "
                f"{type(v)}, valid types: <class 'str'>"
                for k, v in value.items()
                if not isinstance(v, str)
            ]
    if report:
        raise ParamValidationError(report="\n".join(report))


def _has_type(value: Any, types: tuple[type, ...]) -> bool:
    return isinstance(value, types)
