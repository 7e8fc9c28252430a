"""DynamoDB's own API over the system's tables: real boto3, checked against moto's answers for
the same calls, and the modeled exceptions for what DynamoDB refuses."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.awsapi.conftest import REGION, Clients
from tests.awsapi.local_server import LocalServer

pytestmark = pytest.mark.e2e

TABLE = "order_timeline"


@pytest.fixture
def moto_dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client(
            "dynamodb",
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "order_id", "KeyType": "HASH"},
                {"AttributeName": "seq", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "order_id", "AttributeType": "S"},
                {"AttributeName": "seq", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _answers(db: Any, order: str) -> list[Any]:
    """A session of calls; what each answers, or the code of the error it raises."""
    key = {"order_id": {"S": order}, "seq": {"N": "1"}}
    item = {
        **key,
        "s": {"S": "text"},
        "n": {"N": "1.50"},
        "b": {"B": b"\x00\x01"},
        "ss": {"SS": ["b", "a"]},
        "ns": {"NS": ["2", "1"]},
        "m": {"M": {"x": {"L": [{"BOOL": True}, {"NULL": True}]}}},
    }
    calls: list[Callable[[], Any]] = [
        lambda: db.put_item(TableName=TABLE, Item=item),
        lambda: db.get_item(TableName=TABLE, Key=key),
        lambda: db.put_item(
            TableName=TABLE,
            Item=key,
            ConditionExpression="attribute_not_exists(order_id)",
        ),
        lambda: db.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression="SET #n = #n + :one, added = :a REMOVE ss",
            ExpressionAttributeNames={"#n": "n"},
            ExpressionAttributeValues={":one": {"N": "1"}, ":a": {"S": "yes"}},
            ReturnValues="ALL_NEW",
        ),
        lambda: db.batch_write_item(
            RequestItems={
                TABLE: [
                    {"PutRequest": {"Item": {"order_id": {"S": order}, "seq": {"N": str(i)}}}}
                    for i in range(2, 6)
                ]
            }
        ),
        lambda: db.query(
            TableName=TABLE,
            KeyConditionExpression="order_id = :o AND seq >= :s",
            ExpressionAttributeValues={":o": {"S": order}, ":s": {"N": "3"}},
            ScanIndexForward=False,
            Limit=2,
        ),
        lambda: db.query(
            TableName=TABLE,
            KeyConditionExpression="order_id = :o",
            ExpressionAttributeValues={":o": {"S": order}},
            Select="COUNT",
        ),
        lambda: db.batch_get_item(
            RequestItems={
                TABLE: {
                    "Keys": [key, {"order_id": {"S": order}, "seq": {"N": "99"}}],
                    "ProjectionExpression": "seq, added",
                }
            }
        ),
        lambda: db.transact_get_items(
            TransactItems=[
                {"Get": {"TableName": TABLE, "Key": key}},
                {"Get": {"TableName": TABLE, "Key": {**key, "seq": {"N": "42"}}}},
            ]
        ),
        lambda: db.delete_item(
            TableName=TABLE,
            Key=key,
            ConditionExpression="added = :no",
            ExpressionAttributeValues={":no": {"S": "no"}},
        ),
        lambda: db.delete_item(TableName=TABLE, Key=key, ReturnValues="ALL_OLD"),
        lambda: db.get_item(TableName=TABLE, Key=key),
        lambda: db.get_item(TableName="no_such_table", Key=key),
        lambda: db.get_item(TableName=TABLE, Key={"order_id": {"S": order}}),
        lambda: db.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**key, "t": {"S": "new"}}}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": {**key, "seq": {"N": "2"}},
                        "UpdateExpression": "SET t = :t",
                        "ConditionExpression": "attribute_exists(seq)",
                        "ExpressionAttributeValues": {":t": {"S": "updated"}},
                    }
                },
                {"Delete": {"TableName": TABLE, "Key": {**key, "seq": {"N": "3"}}}},
            ]
        ),
        lambda: db.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": TABLE, "Key": key}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": {**key, "seq": {"N": "4"}},
                        "ConditionExpression": "attribute_not_exists(seq)",
                    }
                },
            ]
        ),
        lambda: db.query(
            TableName=TABLE,
            KeyConditionExpression="order_id = :o",
            ExpressionAttributeValues={":o": {"S": order}},
        ),
    ]
    answers = []
    for call in calls:
        try:
            answer = call()
        except db.exceptions.ClientError as error:
            answers.append(error.response["Error"]["Code"])
        else:
            answer.pop("ResponseMetadata")
            answers.append(answer)
    return answers


def _canonical(value: Any) -> Any:
    """Typed values compared as DynamoDB compares them: sets unordered, numbers by value
    (DynamoDB answers ``1.5`` for ``1.50``; moto echoes the text it was given)."""
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((kind, inner),) = value.items()
        if kind == "N":
            return {"N": Decimal(inner)}
        if kind in ("SS", "BS"):
            return {kind: sorted(inner)}
        if kind == "NS":
            return {kind: sorted(Decimal(v) for v in inner)}
    return {k: _canonical(v) for k, v in value.items()}


def _normalized(answers: list[Any]) -> list[Any]:
    answers = _canonical(answers)
    for answer in answers:
        if isinstance(answer, dict):
            # moto reports capacity and collection metrics nobody asked for; DynamoDB does not.
            answer.pop("ConsumedCapacity", None)
            if answer.get("ItemCollectionMetrics") == {}:
                del answer["ItemCollectionMetrics"]
        if isinstance(answer, dict) and isinstance(answer.get("Responses"), dict):
            # Both give a batch's items in an unspecified order.
            for items in answer["Responses"].values():
                items.sort(key=repr)
    return answers


def test_item_operations_answer_as_moto_does(client: Clients, moto_dynamodb: Any) -> None:
    order = str(uuid.uuid4())
    ours = _normalized(_answers(client("dynamodb"), order))
    theirs = _normalized(_answers(moto_dynamodb, order))
    assert ours == theirs
    assert ours[2] == "ConditionalCheckFailedException"
    assert ours[12] == "ResourceNotFoundException"
    assert ours[8]["Responses"][1] == {}
    assert ours[13] == "ValidationException"
    assert ours[1]["Item"]["b"] == {"B": b"\x00\x01"}


def test_the_modeled_exception_classes_are_raised(client: Clients) -> None:
    db = client("dynamodb")
    key = {"order_id": {"S": str(uuid.uuid4())}, "seq": {"N": "1"}}
    db.put_item(TableName=TABLE, Item=key)
    with pytest.raises(db.exceptions.ConditionalCheckFailedException):
        db.put_item(TableName=TABLE, Item=key, ConditionExpression="attribute_not_exists(seq)")
    with pytest.raises(db.exceptions.ResourceNotFoundException):
        db.scan(TableName="missing")
    with pytest.raises(db.exceptions.ClientError) as refused:
        db.put_item(TableName=TABLE, Item={**key, "bad": {"N": "not a number"}})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "bad" in refused.value.response["Error"]["Message"]


def test_a_canceled_transaction_gives_its_cancellation_reasons(client: Clients) -> None:
    db = client("dynamodb")
    key = {"order_id": {"S": str(uuid.uuid4())}, "seq": {"N": "1"}}
    db.put_item(TableName=TABLE, Item=key)
    with pytest.raises(db.exceptions.TransactionCanceledException) as canceled:
        db.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**key, "seq": {"N": "2"}}}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": key,
                        "ConditionExpression": "attribute_not_exists(seq)",
                    }
                },
            ]
        )
    reasons = canceled.value.response["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None", "ConditionalCheckFailed"]
    assert "Item" not in db.get_item(TableName=TABLE, Key={**key, "seq": {"N": "2"}})
    with pytest.raises(db.exceptions.ClientError) as refused:
        db.transact_write_items(TransactItems=[{"Put": {"TableName": TABLE, "Item": key}}] * 2)
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_what_moto_lets_through_is_refused_as_dynamodb_refuses_it(client: Clients) -> None:
    # moto accepts an unused expression value and ignores a projection in TransactGetItems;
    # DynamoDB refuses the first and applies the second.
    db = client("dynamodb")
    order = str(uuid.uuid4())
    key = {"order_id": {"S": order}, "seq": {"N": "1"}}
    db.put_item(TableName=TABLE, Item={**key, "s": {"S": "x"}, "t": {"S": "y"}})
    with pytest.raises(db.exceptions.ClientError) as refused:
        db.query(
            TableName=TABLE,
            KeyConditionExpression="order_id = :o",
            ExpressionAttributeValues={":o": {"S": order}, ":unused": {"S": "x"}},
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert ":unused" in refused.value.response["Error"]["Message"]
    got = db.transact_get_items(
        TransactItems=[{"Get": {"TableName": TABLE, "Key": key, "ProjectionExpression": "s"}}]
    )
    assert got["Responses"] == [{"Item": {"s": {"S": "x"}}}]


def test_batches_beyond_dynamodbs_limits_are_refused_whole(client: Clients) -> None:
    db = client("dynamodb")
    order = str(uuid.uuid4())
    puts = [
        {"PutRequest": {"Item": {"order_id": {"S": order}, "seq": {"N": str(i)}}}}
        for i in range(26)
    ]
    with pytest.raises(db.exceptions.ClientError) as refused:
        db.batch_write_item(RequestItems={TABLE: puts})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(db.exceptions.ResourceNotFoundException):
        db.batch_write_item(RequestItems={TABLE: puts[:2], "missing": puts[2:3]})
    answer = db.query(
        TableName=TABLE,
        KeyConditionExpression="order_id = :o",
        ExpressionAttributeValues={":o": {"S": order}},
    )
    assert answer["Count"] == 0  # nothing of a refused batch was written


def test_scan_pages_through_the_table(client: Clients) -> None:
    db = client("dynamodb")
    paginator = db.get_paginator("scan")
    pages = list(paginator.paginate(TableName="websocket_connections", Limit=1))
    assert all(page["Count"] <= 1 for page in pages)


def test_tables_are_described_as_dynamodb_describes_them(client: Clients) -> None:
    db = client("dynamodb")
    assert db.list_tables()["TableNames"] == ["order_timeline", "websocket_connections"]
    first = db.list_tables(Limit=1)
    assert first["TableNames"] == ["order_timeline"]
    assert first["LastEvaluatedTableName"] == "order_timeline"
    rest = db.list_tables(ExclusiveStartTableName="order_timeline")
    assert rest["TableNames"] == ["websocket_connections"]
    table = db.describe_table(TableName="websocket_connections")["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["KeySchema"] == [
        {"AttributeName": "order_id", "KeyType": "HASH"},
        {"AttributeName": "connection_id", "KeyType": "RANGE"},
    ]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "by_connection"
    assert table["TableArn"].endswith(":table/websocket_connections")
    ttl = db.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    db.get_waiter("table_exists").wait(TableName=TABLE)
    with pytest.raises(db.exceptions.ResourceNotFoundException):
        db.describe_table(TableName="missing")


def test_the_resource_api_works_too(aws_server: LocalServer) -> None:
    dynamodb = boto3.resource(
        "dynamodb",
        endpoint_url=aws_server.url,
        region_name=REGION,
        aws_access_key_id="pizzabus",
        aws_secret_access_key=aws_server.admin_token,
    )
    table = dynamodb.Table(TABLE)
    order = str(uuid.uuid4())
    with table.batch_writer() as batch:
        for seq in range(30):
            batch.put_item(Item={"order_id": order, "seq": seq, "stage": f"s{seq}"})
    items = table.query(
        KeyConditionExpression="order_id = :o", ExpressionAttributeValues={":o": order}
    )
    assert [item["seq"] for item in items["Items"]] == list(range(30))
