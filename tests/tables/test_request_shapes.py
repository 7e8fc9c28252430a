"""Contract: a query or conditional write whose shape the store has seen before answers and
fails exactly as the first request of that shape did, on every store."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pizzabus.sdk.dynamodb import DynamoDBResource, LocalTable
from pizzabus.system import GlobalIndex, KeyAttribute, Table
from pizzabus.tables import TableStore, TableValidationError
from tests.tables.conftest import KINDS, POSTS, make_store


@pytest.fixture
def threads(posts: LocalTable) -> LocalTable:
    for thread in ("t1", "t2"):
        for seq in (1, 2, 3):
            posts.put_item(
                Item={"thread": thread, "seq": seq, "author": f"{thread}-a", "posted": seq}
            )
    return posts


def message_of(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return error.value.response["Error"]["Code"], error.value.response["Error"]["Message"]


def query_twice(table: LocalTable, **params: Any) -> tuple[Any, Any]:
    """The outcome of the same request on a shape first seen, then on a shape known."""
    outcomes = []
    for _ in range(2):
        try:
            outcomes.append(table.query(**params)["Items"])
        except ClientError as error:
            outcomes.append(error.response["Error"])
    return outcomes[0], outcomes[1]


def test_a_known_shape_binds_each_querys_own_values(threads: LocalTable) -> None:
    for thread in ("t1", "t2", "t1", "nobody"):
        response = threads.query(
            KeyConditionExpression="#t = :t AND seq >= :low",
            ExpressionAttributeNames={"#t": "thread"},
            ExpressionAttributeValues={":t": thread, ":low": 2},
        )

        assert [(i["thread"], i["seq"]) for i in response["Items"]] == [
            (thread, Decimal(2)),
            (thread, Decimal(3)),
        ] * (thread != "nobody")


def test_a_known_shape_with_other_names_reads_other_attributes(threads: LocalTable) -> None:
    by_seq = threads.query(
        KeyConditionExpression="thread = :t AND #k = :v",
        ExpressionAttributeNames={"#k": "seq"},
        ExpressionAttributeValues={":t": "t1", ":v": 2},
    )
    with pytest.raises(ClientError) as error:
        threads.query(
            KeyConditionExpression="thread = :t AND #k = :v",
            ExpressionAttributeNames={"#k": "author"},
            ExpressionAttributeValues={":t": "t1", ":v": 2},
        )

    assert [i["seq"] for i in by_seq["Items"]] == [Decimal(2)]
    assert message_of(error) == (
        "ValidationException",
        "Query condition missed key schema element: seq",
    )


BAD_VALUES = [
    pytest.param({":t": "t1"}, id="a-value-missing"),
    pytest.param({":t": "t1", ":low": 1, ":extra": 3}, id="a-value-unused"),
    pytest.param({":t": 1, ":low": 1}, id="partition-value-of-the-wrong-type"),
    pytest.param({":t": "", ":low": 1}, id="empty-partition-value"),
    pytest.param({":t": "t1", ":low": "1"}, id="sort-value-of-the-wrong-type"),
    pytest.param({":t": "t1", ":low": 1.5}, id="a-float"),
]


@pytest.mark.parametrize("values", BAD_VALUES)
def test_values_that_do_not_fit_a_known_shape_fail_as_they_fail_on_a_new_one(
    threads: LocalTable, values: dict[str, Any]
) -> None:
    shape: dict[str, Any] = {"KeyConditionExpression": "thread = :t AND seq > :low"}
    with pytest.raises((ClientError, TypeError)) as first:
        threads.query(**shape, ExpressionAttributeValues=values)
    threads.query(**shape, ExpressionAttributeValues={":t": "t1", ":low": 1})  # known now
    with pytest.raises((ClientError, TypeError)) as again:
        threads.query(**shape, ExpressionAttributeValues=values)

    assert type(again.value) is type(first.value)
    assert str(again.value) == str(first.value)


def test_a_known_shape_still_checks_its_values_before_reading(threads: LocalTable) -> None:
    shape: dict[str, Any] = {"KeyConditionExpression": "thread = :t AND seq BETWEEN :a AND :b"}
    first, _ = query_twice(
        threads, **shape, ExpressionAttributeValues={":t": "t1", ":a": 1, ":b": 2}
    )
    with pytest.raises(ClientError) as error:
        threads.query(**shape, ExpressionAttributeValues={":t": "t1", ":a": 3, ":b": 2})

    assert [i["seq"] for i in first] == [Decimal(1), Decimal(2)]
    code, message = message_of(error)
    assert code == "ValidationException"
    assert "BETWEEN operator requires upper bound to be greater than or equal" in message


def test_a_known_shape_keeps_its_filter_and_projection(threads: LocalTable) -> None:
    params: dict[str, Any] = {
        "KeyConditionExpression": "thread = :t",
        "FilterExpression": "posted > :p",
        "ProjectionExpression": "seq, author",
    }
    first, again = query_twice(threads, **params, ExpressionAttributeValues={":t": "t2", ":p": 1})

    assert (
        first
        == again
        == [
            {"seq": Decimal(2), "author": "t2-a"},
            {"seq": Decimal(3), "author": "t2-a"},
        ]
    )


def test_a_refused_shape_is_refused_every_time(threads: LocalTable) -> None:
    first, again = query_twice(
        threads,
        KeyConditionExpression="thread = :t",
        FilterExpression="seq > :s",
        ExpressionAttributeValues={":t": "t1", ":s": 1},
    )

    assert first == again
    assert "Filter Expression can only contain non-primary key attributes" in first["Message"]


def test_a_table_defined_again_is_queried_by_its_new_definition(
    tmp_path: Path, postgres_schema_dsn: str
) -> None:
    for kind in KINDS:
        store = make_store(kind, tmp_path / kind, postgres_schema_dsn)
        store.create_table(POSTS)
        posts = DynamoDBResource(store).Table("posts")
        posts.put_item(Item={"thread": "t", "seq": 1, "author": "ann", "posted": 5, "n": "x"})
        by_author: dict[str, Any] = {
            "IndexName": "by_author",
            "KeyConditionExpression": "author = :a",
            "ExpressionAttributeValues": {":a": "ann"},
        }
        assert posts.query(**by_author)["Count"] == 1

        by_n = GlobalIndex("by_author", KeyAttribute("n"), KeyAttribute("posted", "N"))
        store.create_table(Table("posts", POSTS.partition_key, POSTS.sort_key, indexes=(by_n,)))

        with pytest.raises(ClientError, match="Query condition missed key schema element: n"):
            posts.query(**by_author)
        assert posts.query(**{**by_author, "KeyConditionExpression": "n = :a"})["Count"] == 0
        store.close()


def test_names_that_cannot_be_hashed_fail_the_same_way_every_time(store: TableStore) -> None:
    outcomes = []
    for _ in range(2):
        with pytest.raises(TypeError) as error:
            store.query(
                "posts",
                key_condition="#t = :t",
                names={"#t": ["thread"]},  # type: ignore[dict-item]
                values={":t": "t"},
            )
        outcomes.append(str(error.value))

    assert outcomes[0] == outcomes[1]


def test_the_store_api_refuses_a_missing_key_condition_every_time(store: TableStore) -> None:
    for _ in range(2):
        with pytest.raises(TableValidationError, match="KeyConditionExpression parameter must"):
            store.query("posts", key_condition=None, values={":t": "t"})  # type: ignore[arg-type]


LEASE: dict[str, Any] = {
    "ConditionExpression": "#v = :v",
    "ExpressionAttributeNames": {"#v": "version"},
}


def test_a_known_condition_binds_each_writes_own_values(users: LocalTable) -> None:
    users.put_item(Item={"user_id": "u", "version": 0})
    for version in range(3):  # compare-and-set, as a lease is taken and let go
        users.put_item(
            Item={"user_id": "u", "version": version + 1},
            **LEASE,
            ExpressionAttributeValues={":v": version},
        )
    with pytest.raises(ClientError) as stale:
        users.put_item(
            Item={"user_id": "u", "version": 9}, **LEASE, ExpressionAttributeValues={":v": 1}
        )
    users.delete_item(Key={"user_id": "u"}, **LEASE, ExpressionAttributeValues={":v": 3})

    assert message_of(stale)[0] == "ConditionalCheckFailedException"
    assert "Item" not in users.get_item(Key={"user_id": "u"})


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({":w": 0}, id="another-placeholder"),
        pytest.param({":v": 0, ":w": 1}, id="a-value-unused"),
        pytest.param({":v": 0.5}, id="a-float"),
    ],
)
def test_values_that_do_not_fit_a_known_condition_fail_as_on_a_new_one(
    users: LocalTable, values: dict[str, Any]
) -> None:
    item = {"user_id": "u", "version": 0}
    with pytest.raises((ClientError, TypeError)) as first:
        users.put_item(Item=item, **LEASE, ExpressionAttributeValues=values)
    users.put_item(Item={"user_id": "u", "version": 0})
    users.put_item(Item=item, **LEASE, ExpressionAttributeValues={":v": 0})  # known now
    with pytest.raises((ClientError, TypeError)) as again:
        users.put_item(Item=item, **LEASE, ExpressionAttributeValues=values)

    assert type(again.value) is type(first.value)
    assert str(again.value) == str(first.value)


def test_a_known_condition_with_other_names_reads_other_attributes(users: LocalTable) -> None:
    users.put_item(Item={"user_id": "u", "version": 1, "other": 2})
    condition: dict[str, Any] = {"ConditionExpression": "#a = :n"}
    users.put_item(
        Item={"user_id": "u", "version": 1, "other": 2},
        **condition,
        ExpressionAttributeNames={"#a": "version"},
        ExpressionAttributeValues={":n": 1},
    )
    with pytest.raises(ClientError) as error:
        users.put_item(
            Item={"user_id": "u"},
            **condition,
            ExpressionAttributeNames={"#a": "other"},
            ExpressionAttributeValues={":n": 1},
        )

    assert message_of(error)[0] == "ConditionalCheckFailedException"
