"""Contract: queries, scans and global secondary indexes behave as DynamoDB's, on every store."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Attr, Key

from pizzabus.sdk.dynamodb import LocalTable
from pizzabus.tables import TableStore, TableValidationError

SEQS: list[int | Decimal] = [
    -10,
    Decimal("-1.5"),
    0,
    Decimal("0.25"),
    1,
    2,
    10,
    100,
    Decimal("1E+5"),
]


@pytest.fixture
def thread(posts: LocalTable) -> LocalTable:
    for i, seq in enumerate(reversed(SEQS)):
        posts.put_item(Item={"thread": "t", "seq": seq, "author": "ann", "posted": i})
    posts.put_item(Item={"thread": "other", "seq": 1, "author": "bob", "posted": 1})
    return posts


def seqs(response: dict[str, Any]) -> list[Decimal]:
    return [item["seq"] for item in response["Items"]]


def test_query_returns_the_partition_in_numeric_sort_key_order(thread: LocalTable) -> None:
    response = thread.query(KeyConditionExpression=Key("thread").eq("t"))

    assert seqs(response) == [Decimal(s) for s in SEQS]
    assert response["Count"] == response["ScannedCount"] == len(SEQS)
    assert "LastEvaluatedKey" not in response


def test_query_backwards_returns_the_reverse_order(thread: LocalTable) -> None:
    response = thread.query(KeyConditionExpression=Key("thread").eq("t"), ScanIndexForward=False)

    assert seqs(response) == [Decimal(s) for s in reversed(SEQS)]


SORT_CONDITIONS = [
    pytest.param("seq = :a", {":a": 1}, [1], id="equal"),
    pytest.param("seq < :a", {":a": 0}, [-10, Decimal("-1.5")], id="less"),
    pytest.param("seq <= :a", {":a": 0}, [-10, Decimal("-1.5"), 0], id="less-or-equal"),
    pytest.param("seq > :a", {":a": 10}, [100, 100000], id="greater"),
    pytest.param("seq >= :a", {":a": 10}, [10, 100, 100000], id="greater-or-equal"),
    pytest.param(
        "seq BETWEEN :a AND :b",
        {":a": Decimal("-1.5"), ":b": 1},
        [Decimal("-1.5"), 0, Decimal("0.25"), 1],
        id="between-inclusive",
    ),
]


@pytest.mark.parametrize("forward", [True, False], ids=["forward", "backward"])
@pytest.mark.parametrize(("condition", "values", "expected"), SORT_CONDITIONS)
def test_sort_key_conditions_select_a_range_in_either_direction(
    thread: LocalTable,
    condition: str,
    values: dict[str, Any],
    expected: list[Any],
    forward: bool,
) -> None:
    response = thread.query(
        KeyConditionExpression=f"thread = :t AND {condition}",
        ExpressionAttributeValues={":t": "t", **values},
        ScanIndexForward=forward,
    )

    wanted = [Decimal(e) for e in expected]
    assert seqs(response) == (wanted if forward else wanted[::-1])


@pytest.mark.parametrize("forward", [True, False], ids=["forward", "backward"])
@pytest.mark.parametrize("limit", [1, 2, 4, 9, 10])
def test_limit_pages_through_everything_once_with_last_evaluated_key(
    thread: LocalTable, limit: int, forward: bool
) -> None:
    params: dict[str, Any] = {
        "KeyConditionExpression": Key("thread").eq("t") & Key("seq").gte(Decimal("-1.5")),
        "Limit": limit,
        "ScanIndexForward": forward,
    }
    seen: list[Decimal] = []
    pages = 0
    while True:
        response = thread.query(**params)
        pages += 1
        assert response["ScannedCount"] <= limit
        seen += seqs(response)
        if "LastEvaluatedKey" not in response:
            break
        assert set(response["LastEvaluatedKey"]) == {"thread", "seq"}
        params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    expected = [Decimal(s) for s in SEQS[1:]]
    assert seen == (expected if forward else expected[::-1])
    assert pages == len(expected) // limit + 1  # a page that fills Limit always has a key


def test_limit_counts_items_read_before_the_filter(thread: LocalTable) -> None:
    response = thread.query(
        KeyConditionExpression=Key("thread").eq("t"),
        FilterExpression=Attr("posted").gte(7),
        Limit=3,
    )

    assert response["ScannedCount"] == 3
    assert [i["posted"] for i in response["Items"]] == [8, 7]
    assert response["LastEvaluatedKey"] == {"thread": "t", "seq": 0}


def test_select_count_answers_counts_without_items(thread: LocalTable) -> None:
    response = thread.query(KeyConditionExpression=Key("thread").eq("t"), Select="COUNT")

    assert "Items" not in response
    assert response["Count"] == len(SEQS)


def test_string_sort_keys_are_ordered_by_utf8_bytes(files: LocalTable) -> None:
    paths = ["b", "a/b", "a", "Z", "é", "\U0001f355", "\uffee", "a0"]
    for path in paths:
        files.put_item(Item={"folder": "f", "path": path})

    response = files.query(
        KeyConditionExpression="folder = :f AND begins_with(#p, :a)",
        ExpressionAttributeNames={"#p": "path"},
        ExpressionAttributeValues={":f": "f", ":a": "a"},
    )
    everything = files.query(KeyConditionExpression=Key("folder").eq("f"))

    assert [i["path"] for i in response["Items"]] == ["a", "a/b", "a0"]
    assert [i["path"] for i in everything["Items"]] == sorted(paths, key=str.encode)


def test_index_query_finds_items_by_the_index_key_in_index_sort_order(
    thread: LocalTable,
) -> None:
    response = thread.query(
        IndexName="by_author",
        KeyConditionExpression=Key("author").eq("ann") & Key("posted").between(2, 4),
        ScanIndexForward=False,
    )

    assert [i["posted"] for i in response["Items"]] == [4, 3, 2]
    assert response["Items"][0]["thread"] == "t"


def test_index_pages_carry_both_the_index_key_and_the_table_key(posts: LocalTable) -> None:
    for seq in range(5):
        posts.put_item(Item={"thread": "t", "seq": seq, "author": "ann", "posted": 1})
    params: dict[str, Any] = {
        "IndexName": "by_author",
        "KeyConditionExpression": Key("author").eq("ann"),
        "Limit": 2,
    }
    found = []
    while True:
        response = posts.query(**params)
        found += [i["seq"] for i in response["Items"]]
        if "LastEvaluatedKey" not in response:
            break
        assert set(response["LastEvaluatedKey"]) == {"thread", "seq", "author", "posted"}
        params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    assert found == [0, 1, 2, 3, 4]


def test_items_without_the_index_key_are_not_in_the_index(posts: LocalTable) -> None:
    posts.put_item(Item={"thread": "t", "seq": 1, "author": "ann"})  # no `posted`
    posts.put_item(Item={"thread": "t", "seq": 2, "posted": 1})  # no `author`

    assert posts.scan(IndexName="by_author")["Items"] == []


def test_the_index_follows_overwrites_updates_and_deletes(posts: LocalTable) -> None:
    def by(author: str) -> list[Any]:
        response = posts.query(
            IndexName="by_author", KeyConditionExpression=Key("author").eq(author)
        )
        return [i["seq"] for i in response["Items"]]

    posts.put_item(Item={"thread": "t", "seq": 1, "author": "ann", "posted": 1})
    posts.put_item(Item={"thread": "t", "seq": 2, "author": "ann", "posted": 2})
    posts.put_item(Item={"thread": "t", "seq": 1, "author": "bob", "posted": 1})
    assert (by("ann"), by("bob")) == ([2], [1])

    posts.update_item(
        Key={"thread": "t", "seq": 2},
        UpdateExpression="SET author = :c",
        ExpressionAttributeValues={":c": "cy"},
    )
    assert (by("ann"), by("cy")) == ([], [2])

    posts.update_item(Key={"thread": "t", "seq": 2}, UpdateExpression="REMOVE posted")
    posts.delete_item(Key={"thread": "t", "seq": 1})
    assert (by("bob"), by("cy")) == ([], [])


def test_an_index_without_a_sort_key_holds_many_items_per_key(files: LocalTable) -> None:
    for path in ["x", "y", "z"]:
        files.put_item(Item={"folder": "f", "path": path, "digest": b"\x01"})

    response = files.query(
        IndexName="by_hash", KeyConditionExpression=Key("digest").eq(b"\x01"), Limit=2
    )
    rest = files.query(
        IndexName="by_hash",
        KeyConditionExpression=Key("digest").eq(b"\x01"),
        ExclusiveStartKey=response["LastEvaluatedKey"],
    )

    assert [i["path"] for i in response["Items"] + rest["Items"]] == ["x", "y", "z"]


def test_scan_pages_through_every_item_once(thread: LocalTable) -> None:
    params: dict[str, Any] = {"Limit": 4}
    seen = []
    while True:
        response = thread.scan(**params)
        seen += [(i["thread"], i["seq"]) for i in response["Items"]]
        if "LastEvaluatedKey" not in response:
            break
        params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    assert sorted(seen) == sorted([("t", Decimal(s)) for s in SEQS] + [("other", Decimal(1))])


def test_parallel_scan_segments_split_the_items_without_overlap(users: LocalTable) -> None:
    for n in range(40):
        users.put_item(Item={"user_id": f"u{n}"})

    segments = [
        {i["user_id"] for i in users.scan(Segment=s, TotalSegments=3)["Items"]} for s in range(3)
    ]

    assert sum(len(s) for s in segments) == 40
    assert set().union(*segments) == {f"u{n}" for n in range(40)}


def test_scan_filters_and_projects(thread: LocalTable) -> None:
    response = thread.scan(
        FilterExpression="author = :b",
        ExpressionAttributeValues={":b": "bob"},
        ProjectionExpression="thread, posted",
    )

    assert response["Items"] == [{"thread": "other", "posted": 1}]
    assert response["ScannedCount"] == len(SEQS) + 1


def test_a_query_stops_after_a_megabyte_and_says_where(
    users: LocalTable, posts: LocalTable
) -> None:
    for seq in range(5):
        posts.put_item(Item={"thread": "big", "seq": seq, "blob": b"x" * 300_000})

    first = posts.query(KeyConditionExpression=Key("thread").eq("big"))
    rest = posts.query(
        KeyConditionExpression=Key("thread").eq("big"), ExclusiveStartKey=first["LastEvaluatedKey"]
    )

    assert first["Count"] == 4  # 4 x 300 KB reaches 1 MB
    assert rest["Count"] == 1


def test_parallel_scan_segments_count_only_their_own_items(users: LocalTable) -> None:
    for n in range(40):
        users.put_item(Item={"user_id": f"u{n}"})

    pages = [users.scan(Segment=s, TotalSegments=3) for s in range(3)]

    assert [p["ScannedCount"] for p in pages] == [p["Count"] for p in pages]
    assert sum(p["ScannedCount"] for p in pages) == 40
    assert all("LastEvaluatedKey" not in p for p in pages)


def test_a_parallel_scan_segment_pages_with_a_limit(users: LocalTable) -> None:
    for n in range(40):
        users.put_item(Item={"user_id": f"u{n}"})
    whole = {i["user_id"] for i in users.scan(Segment=1, TotalSegments=2)["Items"]}

    params: dict[str, Any] = {"Segment": 1, "TotalSegments": 2, "Limit": 3}
    paged: list[str] = []
    while True:
        response = users.scan(**params)
        assert response["ScannedCount"] <= 3
        paged += [i["user_id"] for i in response["Items"]]
        if "LastEvaluatedKey" not in response:
            break
        params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    assert sorted(paged) == sorted(whole)
    assert 0 < len(whole) < 40


def test_an_index_scan_pages_from_its_exclusive_start_key(thread: LocalTable) -> None:
    params: dict[str, Any] = {"IndexName": "by_author", "Limit": 4}
    seen = []
    while True:
        response = thread.scan(**params)
        seen += [(i["author"], i["posted"], i["thread"], i["seq"]) for i in response["Items"]]
        if "LastEvaluatedKey" not in response:
            break
        assert set(response["LastEvaluatedKey"]) == {"thread", "seq", "author", "posted"}
        params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    expected = [("ann", i, "t", Decimal(s)) for i, s in enumerate(reversed(SEQS))]
    assert sorted(seen) == sorted([*expected, ("bob", 1, "other", Decimal(1))])
    assert len(seen) == len(set(seen))


def test_scan_projects_names_and_counts_what_it_read(thread: LocalTable) -> None:
    response = thread.scan(
        FilterExpression="#a = :b",
        ExpressionAttributeNames={"#a": "author", "#p": "posted"},
        ExpressionAttributeValues={":b": "ann"},
        ProjectionExpression="#p",
        Limit=3,
    )

    # In key order: bob's item (read, filtered out), then the first two of thread t.
    assert response["Items"] == [{"posted": len(SEQS) - 1}, {"posted": len(SEQS) - 2}]
    assert (response["Count"], response["ScannedCount"]) == (2, 3)
    assert set(response["LastEvaluatedKey"]) == {"thread", "seq"}


def test_queries_of_one_shape_share_nothing_but_their_shape(store: TableStore) -> None:
    """The engine caches a query's parsed shape; every part of the request that changes the
    answer must be part of its key, and each call binds its own names and values."""
    for seq, author in ((1, "ann"), (2, "bob"), (3, "ann")):
        store.put_item(
            "posts", {"thread": "t", "seq": Decimal(seq), "author": author, "posted": seq}
        )

    def seqs(**request: Any) -> list[int]:
        return [int(item["seq"]) for item in store.query("posts", **request).items]

    everything = {"key_condition": "thread = :t", "values": {":t": "t"}}
    assert seqs(**everything) == [1, 2, 3]  # ascending unless told otherwise
    assert seqs(**everything) == [1, 2, 3]  # from the cached shape
    after = "thread = :t AND seq > :s"
    assert seqs(key_condition=after, values={":t": "t", ":s": 1}) == [2, 3]
    assert seqs(key_condition=after, values={":t": "t", ":s": 2}) == [3]
    # Another condition with the very same names and values is another shape.
    assert seqs(key_condition="thread = :t AND seq <= :s", values={":t": "t", ":s": 2}) == [1, 2]
    # Pages of a range: each starts after the last key, and stays in the range.
    first = store.query("posts", key_condition=after, values={":t": "t", ":s": 1}, limit=1)
    assert [int(item["seq"]) for item in first.items] == [2]
    rest = store.query(
        "posts", key_condition=after, values={":t": "t", ":s": 1}, start_key=first.last_key
    )
    assert [int(item["seq"]) for item in rest.items] == [3]
    with pytest.raises(TableValidationError):
        store.query("posts", **everything, limit=0)
    named = {"key_condition": "#t = :t", "names": {"#t": "thread"}}
    assert seqs(**named, values={":t": "t"}) == [1, 2, 3]
    assert seqs(**named, values={":t": "elsewhere"}) == []
    by_ann = {":t": "t", ":a": "ann"}
    assert seqs(key_condition="thread = :t", filter="author = :a", values=by_ann) == [1, 3]
    assert seqs(key_condition="thread = :t", filter="author <> :a", values=by_ann) == [2]
    projected = store.query("posts", **everything, projection="seq").items
    assert projected == [{"seq": 1}, {"seq": 2}, {"seq": 3}]
    by_name = store.query(
        "posts", key_condition="thread = :t", values={":t": "t"}, projection="#w",
        names={"#w": "author"},
    ).items  # fmt: skip
    assert by_name == [{"author": "ann"}, {"author": "bob"}, {"author": "ann"}]
    assert "author" in store.query("posts", **everything).items[0]
    on_index = store.query(
        "posts", index="by_author", key_condition="author = :a", values={":a": "ann"}
    )
    assert [int(item["seq"]) for item in on_index.items] == [1, 3]
    with pytest.raises(TableValidationError):  # author is no key of the table itself
        store.query("posts", key_condition="author = :a", values={":a": "ann"})
