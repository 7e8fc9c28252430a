"""Differential test: the same operations on pizzabus's tables and on moto's DynamoDB.

moto is a reference, not the truth: where it disagrees with DynamoDB's documented behaviour the
case is kept, skipped, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError
from moto import mock_aws

from pizzabus.sdk.dynamodb import DynamoDBResource
from pizzabus.system import Table
from pizzabus.tables import TableStore
from tests.tables.conftest import SPECS

Step = tuple[str, str, dict[str, Any]]  # table, method, parameters

SEED: list[Step] = [
    (
        "posts",
        "put_item",
        {
            "Item": {
                "thread": "t",
                "seq": s,
                "author": "ann",
                "posted": 10 - s,
                "tags": {"a", "b"},
                "body": {"text": "x", "n": [1, 2]},
            }
        },
    )
    for s in range(1, 6)
] + [
    ("posts", "put_item", {"Item": {"thread": "u", "seq": 1, "author": "bob", "posted": 1}}),
    ("users", "put_item", {"Item": {"user_id": "u1", "version": 1, "blob": b"\x01"}}),
]

CASES: list[Any] = [
    pytest.param([("users", "get_item", {"Key": {"user_id": "u1"}})], id="get"),
    pytest.param([("users", "get_item", {"Key": {"user_id": "nobody"}})], id="get-missing"),
    pytest.param(
        [
            (
                "posts",
                "get_item",
                {"Key": {"thread": "t", "seq": 1}, "ProjectionExpression": "body.n[1], tags"},
            )
        ],
        id="get-projection",
    ),
    pytest.param(
        [
            (
                "users",
                "put_item",
                {"Item": {"user_id": "u1"}, "ConditionExpression": "attribute_not_exists(user_id)"},
            )
        ],
        id="create-once-refused",
    ),
    pytest.param(
        [
            (
                "users",
                "put_item",
                {
                    "Item": {"user_id": "u1", "version": 2},
                    "ConditionExpression": "#v = :v",
                    "ExpressionAttributeNames": {"#v": "version"},
                    "ExpressionAttributeValues": {":v": 1},
                    "ReturnValues": "ALL_OLD",
                },
            ),
            ("users", "get_item", {"Key": {"user_id": "u1"}}),
        ],
        id="compare-and-set",
    ),
    pytest.param(
        [
            (
                "users",
                "put_item",
                {"Item": {"user_id": "u1"}, "ConditionExpression": Attr("version").eq(5)},
            )
        ],
        id="condition-object-refused",
    ),
    pytest.param(
        [("users", "delete_item", {"Key": {"user_id": "u1"}, "ReturnValues": "ALL_OLD"})],
        id="delete-all-old",
    ),
    pytest.param(
        [
            (
                "posts",
                "update_item",
                {
                    "Key": {"thread": "t", "seq": 1},
                    "UpdateExpression": (
                        "SET posted = posted + :one, body.n[0] = :z REMOVE tags ADD c :one"
                    ),
                    "ExpressionAttributeValues": {":one": 1, ":z": 0},
                    "ReturnValues": "ALL_NEW",
                },
            )
        ],
        id="update-all-new",
    ),
    pytest.param(
        [
            (
                "posts",
                "update_item",
                {
                    "Key": {"thread": "t", "seq": 2},
                    "UpdateExpression": "SET posted = :v, extra = :v",
                    "ExpressionAttributeValues": {":v": 7},
                    "ReturnValues": "UPDATED_OLD",
                },
            )
        ],
        id="update-updated-old",
    ),
    pytest.param(
        [
            (
                "posts",
                "update_item",
                {
                    "Key": {"thread": "new", "seq": 1},
                    "UpdateExpression": "SET hits = if_not_exists(hits, :z) + :one",
                    "ExpressionAttributeValues": {":z": 0, ":one": 1},
                    "ReturnValues": "ALL_NEW",
                },
            )
        ],
        id="update-creates",
    ),
    pytest.param(
        [
            (
                "posts",
                "update_item",
                {
                    "Key": {"thread": "new", "seq": 1},
                    "UpdateExpression": "SET hits = :one",
                    "ExpressionAttributeValues": {":one": 1},
                    "ReturnValues": "UPDATED_NEW",
                },
            )
        ],
        id="update-creates-updated-new",
        marks=pytest.mark.skip(
            reason="DynamoDB answers only the updated attributes (hits); "
            "moto answers the whole new item, keys included"
        ),
    ),
    pytest.param(
        [("posts", "query", {"KeyConditionExpression": Key("thread").eq("t")})], id="query"
    ),
    pytest.param(
        [
            (
                "posts",
                "query",
                {
                    "KeyConditionExpression": Key("thread").eq("t") & Key("seq").between(2, 4),
                    "ScanIndexForward": False,
                },
            )
        ],
        id="query-between-backwards",
    ),
    pytest.param(
        [
            (
                "posts",
                "query",
                {
                    "KeyConditionExpression": Key("thread").eq("t"),
                    "FilterExpression": Attr("posted").gt(6),
                    "Limit": 3,
                },
            )
        ],
        id="query-limit-and-filter",
    ),
    pytest.param(
        [
            (
                "posts",
                "query",
                {
                    "KeyConditionExpression": Key("thread").eq("t"),
                    "Limit": 2,
                    "ExclusiveStartKey": {"thread": "t", "seq": 2},
                },
            )
        ],
        id="query-from-start-key",
    ),
    pytest.param(
        [
            (
                "posts",
                "query",
                {"IndexName": "by_author", "KeyConditionExpression": Key("author").eq("ann")},
            )
        ],
        id="query-index",
    ),
    pytest.param(
        [("posts", "query", {"KeyConditionExpression": Key("thread").eq("t"), "Select": "COUNT"})],
        id="query-count",
    ),
    pytest.param(
        [("posts", "query", {"KeyConditionExpression": Key("thread").eq("t"), "Limit": 5})],
        id="query-limit-reached-at-the-end",
        marks=pytest.mark.skip(
            reason="DynamoDB returns LastEvaluatedKey whenever a page "
            "stops at Limit, even at the end; moto omits it"
        ),
    ),
    pytest.param(
        [("posts", "scan", {"FilterExpression": Attr("author").eq("bob")})], id="scan-filter"
    ),
    pytest.param([("posts", "get_item", {"Key": {"thread": "t"}})], id="partial-key-refused"),
    pytest.param(
        [("posts", "put_item", {"Item": {"thread": "t", "seq": "1"}})], id="wrong-key-type-refused"
    ),
    pytest.param(
        [
            (
                "posts",
                "put_item",
                {"Item": {"thread": "t", "seq": 1}, "ConditionExpression": "seq = :v"},
            )
        ],
        id="undefined-value-refused",
        marks=pytest.mark.skip(
            reason="moto crashes with KeyError(':v') where DynamoDB answers ValidationException"
        ),
    ),
    pytest.param(
        [
            (
                "posts",
                "query",
                {"KeyConditionExpression": "seq = :v", "ExpressionAttributeValues": {":v": 1}},
            )
        ],
        id="query-without-partition-key-refused",
    ),
    pytest.param(
        [
            (
                "posts",
                "update_item",
                {
                    "Key": {"thread": "t", "seq": 1},
                    "UpdateExpression": "SET seq = :v",
                    "ExpressionAttributeValues": {":v": 2},
                },
            )
        ],
        id="update-key-refused",
    ),
    pytest.param([("nope", "get_item", {"Key": {"id": "x"}})], id="missing-table"),
]


def _create(resource: Any, spec: Table) -> None:
    keys = [spec.partition_key, spec.sort_key]
    attributes = {k.name: k.type for k in keys if k}
    params: dict[str, Any] = {
        "TableName": spec.name,
        "KeySchema": [{"AttributeName": spec.partition_key.name, "KeyType": "HASH"}]
        + ([{"AttributeName": spec.sort_key.name, "KeyType": "RANGE"}] if spec.sort_key else []),
        "BillingMode": "PAY_PER_REQUEST",
    }
    if spec.indexes:
        params["GlobalSecondaryIndexes"] = []
        for gsi in spec.indexes:
            schema = [{"AttributeName": gsi.partition_key.name, "KeyType": "HASH"}]
            attributes[gsi.partition_key.name] = gsi.partition_key.type
            if gsi.sort_key:
                schema.append({"AttributeName": gsi.sort_key.name, "KeyType": "RANGE"})
                attributes[gsi.sort_key.name] = gsi.sort_key.type
            params["GlobalSecondaryIndexes"].append(
                {
                    "IndexName": gsi.name,
                    "KeySchema": schema,
                    "Projection": {"ProjectionType": "ALL"},
                }
            )
    params["AttributeDefinitions"] = [
        {"AttributeName": n, "AttributeType": t} for n, t in attributes.items()
    ]
    resource.create_table(**params)


@pytest.fixture(scope="module")
def moto_resource() -> Iterator[Any]:
    # What is known of moto's tables lives as long as they do: a second pytest session in the
    # same process (mutmut runs several) starts with new, empty tables.
    _moto_outcomes.clear()
    _moto_state["seeded"] = False
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            patch.setenv(name, value)
        resource = boto3.resource("dynamodb", region_name="us-east-1")
        for spec in SPECS:
            _create(resource, spec)
        yield resource


_moto_outcomes: dict[str, list[Any]] = {}
_moto_state = {"seeded": False}
_READS = {"get_item", "query", "scan"}


def _moto_run(resource: Any, steps: list[Step]) -> list[Any]:
    """Run ``steps`` on moto's tables holding just SEED (moto is slow: re-seed only after
    writes)."""
    if not _moto_state["seeded"]:
        for spec in SPECS:
            table = resource.Table(spec.name)
            names = [spec.partition_key.name] + ([spec.sort_key.name] if spec.sort_key else [])
            for item in table.scan()["Items"]:
                table.delete_item(Key={n: item[n] for n in names})
        _run(resource, SEED)
    _moto_state["seeded"] = all(method in _READS for _, method, _ in steps)
    return _run(resource, steps)


def _run(resource: Any, steps: list[Step]) -> list[Any]:
    outcomes: list[Any] = []
    for table, method, params in steps:
        try:
            response = getattr(resource.Table(table), method)(**params)
        except ClientError as error:
            outcomes.append(("error", error.response["Error"]["Code"]))
            continue
        response.pop("ResponseMetadata")
        response.pop("ConsumedCapacity", None)
        outcomes.append(response)
    return outcomes


@pytest.mark.parametrize("steps", CASES)
def test_pizzabus_answers_as_moto_does(
    steps: list[Step], store: TableStore, request: pytest.FixtureRequest
) -> None:
    case = request.node.callspec.id.split("-", 1)[1]  # the same for both stores
    if case not in _moto_outcomes:
        _moto_outcomes[case] = _moto_run(request.getfixturevalue("moto_resource"), steps)
    ours = DynamoDBResource(store)
    _run(ours, SEED)

    assert _run(ours, steps) == _moto_outcomes[case]


def test_numbers_round_trip_identically(store: TableStore, moto_resource: Any) -> None:
    item = {"user_id": "n", "a": Decimal("0.1"), "b": Decimal("-12345678901234567890.5"), "c": 0}
    _moto_state["seeded"] = False
    for resource in (DynamoDBResource(store), moto_resource):
        resource.Table("users").put_item(Item=item)

    got = [
        r.Table("users").get_item(Key={"user_id": "n"})["Item"]
        for r in (DynamoDBResource(store), moto_resource)
    ]
    assert got[0] == got[1] == item
