"""Contract: what a caller gets back, or hands over, is never the stored item, on every store:
changing it, however deep, changes nothing stored."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pizzabus.sdk.dynamodb import LocalTable


def nested(seq: int) -> dict[str, Any]:
    return {
        "thread": "t",
        "seq": seq,
        "author": "ann",
        "posted": seq,
        "tags": ["a", "b"],
        "meta": {"votes": {"up": 1}, "blob": b"\x00"},
        "names": {"x", "y"},
    }


STORED = {
    "tags": ["a", "b"],
    "meta": {"votes": {"up": Decimal(1)}, "blob": b"\x00"},
    "names": {"x", "y"},
}


def scribble(item: dict[str, Any]) -> None:
    """Change every level of an item as a careless handler might."""
    item["tags"].append("changed")
    item["meta"]["votes"]["up"] = 99
    item["meta"]["new"] = True
    item["names"].add("z")
    item["author"] = "mallory"


def assert_unchanged(posts: LocalTable, seq: int) -> None:
    item = posts.get_item(Key={"thread": "t", "seq": seq})["Item"]
    assert item["author"] == "ann"
    assert {k: item[k] for k in STORED} == STORED


@pytest.fixture
def thread(posts: LocalTable) -> LocalTable:
    for seq in (1, 2, 3):
        posts.put_item(Item=nested(seq))
    return posts


def test_a_put_item_changed_afterwards_changes_nothing_stored(posts: LocalTable) -> None:
    item = nested(1)
    posts.put_item(Item=item)
    scribble(item)

    assert_unchanged(posts, 1)


def test_query_items_changed_by_the_caller_change_nothing_stored(thread: LocalTable) -> None:
    first = thread.query(
        KeyConditionExpression="thread = :t", ExpressionAttributeValues={":t": "t"}
    )
    for item in first["Items"]:
        scribble(item)
    first["Items"].clear()

    again = thread.query(
        KeyConditionExpression="thread = :t", ExpressionAttributeValues={":t": "t"}
    )
    assert [i["author"] for i in again["Items"]] == ["ann"] * 3
    for seq in (1, 2, 3):
        assert_unchanged(thread, seq)


def test_index_query_and_scan_items_changed_change_nothing_stored(thread: LocalTable) -> None:
    by_author = thread.query(
        IndexName="by_author",
        KeyConditionExpression="author = :a",
        ExpressionAttributeValues={":a": "ann"},
    )
    scanned = thread.scan(Limit=2)
    for item in by_author["Items"] + scanned["Items"]:
        scribble(item)
    scanned["LastEvaluatedKey"]["seq"] = 3

    for seq in (1, 2, 3):
        assert_unchanged(thread, seq)


def test_old_items_returned_by_writes_change_nothing_stored(thread: LocalTable) -> None:
    old = thread.put_item(Item=nested(1), ReturnValues="ALL_OLD")["Attributes"]
    scribble(old)
    with pytest.raises(ClientError) as error:
        thread.put_item(
            Item=nested(2),
            ConditionExpression="attribute_not_exists(seq)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    error.value.response["Item"]["author"] = {"S": "mallory"}

    assert_unchanged(thread, 1)
    assert_unchanged(thread, 2)


def test_two_reads_never_share_an_item(thread: LocalTable) -> None:
    one = thread.get_item(Key={"thread": "t", "seq": 1})["Item"]
    two = thread.query(KeyConditionExpression="thread = :t", ExpressionAttributeValues={":t": "t"})

    assert one is not two["Items"][0]
    assert one["meta"] is not two["Items"][0]["meta"]
    assert one["tags"] is not two["Items"][0]["tags"]
