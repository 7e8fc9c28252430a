"""Contract: single-item operations behave as DynamoDB's, on every store."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Attr
from boto3.dynamodb.types import Binary
from botocore.exceptions import ClientError

from pizzabus.sdk.dynamodb import LocalTable
from pizzabus.tables import ConditionalCheckFailed, TableStore

ALL_TYPES: dict[str, Any] = {
    "user_id": "u1",
    "text": "héllo ✓",
    "empty_text": "",
    "int": 42,
    "big": Decimal("12345678901234567890123456789012345678"),
    "tiny": Decimal("-1E-130"),
    "fraction": Decimal("3.14"),
    "blob": b"\x00\xff",
    "yes": True,
    "nothing": None,
    "list": [1, "two", [b"3"], {"four": 4}],
    "map": {"nested": {"deeper": ["x", None, False]}},
    "strings": {"a", "b"},
    "numbers": {Decimal(1), Decimal("2.5")},
    "binaries": {b"x", b"y"},
}


def code_of(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return error.value.response["Error"]["Code"], error.value.response["Error"]["Message"]


def test_put_then_get_returns_every_type_as_boto3_does(users: LocalTable) -> None:
    users.put_item(Item=ALL_TYPES)

    item = users.get_item(Key={"user_id": "u1"})["Item"]

    assert item == {
        **ALL_TYPES,
        "int": Decimal(42),
        "list": [Decimal(1), "two", [Binary(b"3")], {"four": Decimal(4)}],
    }
    assert isinstance(item["int"], Decimal)
    assert isinstance(item["blob"], Binary)
    assert all(isinstance(b, Binary) for b in item["binaries"])
    assert isinstance(item["strings"], set)


def test_numbers_come_back_canonical_as_dynamodb_returns_them(users: LocalTable) -> None:
    users.put_item(Item={"user_id": "n", "a": Decimal("1.50"), "b": Decimal("1E+2"), "c": -0})

    item = users.get_item(Key={"user_id": "n"})["Item"]

    assert (str(item["a"]), str(item["b"]), str(item["c"])) == ("1.5", "100", "0")


def test_get_of_a_missing_item_has_no_item_key(users: LocalTable) -> None:
    response = users.get_item(Key={"user_id": "nobody"})

    assert "Item" not in response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_items_are_copies_so_changing_them_changes_nothing_stored(users: LocalTable) -> None:
    item: dict[str, Any] = {"user_id": "u", "tags": ["a"], "profile": {"name": "x"}}
    users.put_item(Item=item)
    item["tags"].append("changed")
    got = users.get_item(Key={"user_id": "u"})["Item"]
    got["profile"]["name"] = "changed too"

    assert users.get_item(Key={"user_id": "u"})["Item"] == {
        "user_id": "u",
        "tags": ["a"],
        "profile": {"name": "x"},
    }


def test_put_replaces_the_whole_item(users: LocalTable) -> None:
    users.put_item(Item={"user_id": "u", "old": 1})
    users.put_item(Item={"user_id": "u", "new": 2})

    assert users.get_item(Key={"user_id": "u"})["Item"] == {"user_id": "u", "new": 2}


def test_delete_removes_the_item_and_deleting_nothing_is_fine(users: LocalTable) -> None:
    users.put_item(Item={"user_id": "u"})

    users.delete_item(Key={"user_id": "u"})
    users.delete_item(Key={"user_id": "u"})

    assert "Item" not in users.get_item(Key={"user_id": "u"})


def test_attribute_not_exists_creates_once(users: LocalTable) -> None:
    users.put_item(
        Item={"user_id": "u", "n": 1}, ConditionExpression="attribute_not_exists(user_id)"
    )

    with pytest.raises(ClientError) as error:
        users.put_item(
            Item={"user_id": "u", "n": 2}, ConditionExpression="attribute_not_exists(user_id)"
        )

    assert code_of(error) == ("ConditionalCheckFailedException", "The conditional request failed")
    assert error.value.operation_name == "PutItem"
    assert users.get_item(Key={"user_id": "u"})["Item"]["n"] == 1


def test_version_compare_and_set_accepts_the_current_version_only(users: LocalTable) -> None:
    users.put_item(Item={"user_id": "u", "version": 1, "v": "a"})

    def swap(expected: int, value: str) -> None:
        users.put_item(
            Item={"user_id": "u", "version": expected + 1, "v": value},
            ConditionExpression="#version = :expected",
            ExpressionAttributeNames={"#version": "version"},
            ExpressionAttributeValues={":expected": expected},
        )

    swap(1, "b")
    with pytest.raises(ClientError):
        swap(1, "stale")

    assert users.get_item(Key={"user_id": "u"})["Item"] == {"user_id": "u", "version": 2, "v": "b"}


def test_a_failed_conditional_write_changes_nothing(posts: LocalTable) -> None:
    posts.put_item(Item={"thread": "t", "seq": 1, "author": "ann", "posted": 5, "v": 1})

    with pytest.raises(ClientError):
        posts.put_item(
            Item={"thread": "t", "seq": 1, "author": "bob", "posted": 6},
            ConditionExpression="v = :two",
            ExpressionAttributeValues={":two": 2},
        )
    with pytest.raises(ClientError):
        posts.update_item(
            Key={"thread": "t", "seq": 1},
            UpdateExpression="SET v = :two",
            ConditionExpression="attribute_not_exists(thread)",
            ExpressionAttributeValues={":two": 2},
        )
    with pytest.raises(ClientError):
        posts.delete_item(Key={"thread": "t", "seq": 1}, ConditionExpression=Attr("v").eq(9))

    assert posts.get_item(Key={"thread": "t", "seq": 1})["Item"]["author"] == "ann"
    by_bob = posts.query(
        IndexName="by_author",
        KeyConditionExpression="author = :a",
        ExpressionAttributeValues={":a": "bob"},
    )
    assert by_bob["Items"] == []


def test_condition_failure_can_return_the_item_as_it_was(users: LocalTable) -> None:
    users.put_item(Item={"user_id": "u", "n": 1})

    with pytest.raises(ClientError) as error:
        users.put_item(
            Item={"user_id": "u"},
            ConditionExpression="attribute_not_exists(user_id)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    assert error.value.response["Item"] == {"user_id": {"S": "u"}, "n": {"N": "1"}}


@pytest.mark.parametrize("write", ["update_item", "delete_item"])
def test_a_failed_update_or_delete_can_return_the_item_as_it_was(
    users: LocalTable, write: str
) -> None:
    users.put_item(Item={"user_id": "u", "n": 1})

    with pytest.raises(ClientError) as error:
        getattr(users, write)(
            Key={"user_id": "u"},
            ConditionExpression="n = :two",
            ExpressionAttributeValues={":two": 2},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    assert error.value.response["Item"] == {"user_id": {"S": "u"}, "n": {"N": "1"}}
    assert users.get_item(Key={"user_id": "u"})["Item"] == {"user_id": "u", "n": 1}


CONDITIONS = [
    pytest.param("n = :one", {":one": 1}, True, id="equal-number"),
    pytest.param("n = :s", {":s": "1"}, False, id="number-is-not-string"),
    pytest.param("flag = :one", {":one": 1}, False, id="true-is-not-one"),
    pytest.param("n <> :two", {":two": 2}, True, id="not-equal"),
    pytest.param("absent <> :two", {":two": 2}, True, id="missing-is-not-equal"),
    pytest.param("absent = :two", {":two": 2}, False, id="missing-is-not-equal-to-anything"),
    pytest.param("n < :two AND n >= :one", {":one": 1, ":two": 2}, True, id="range"),
    pytest.param("s < :n", {":n": 5}, False, id="string-not-less-than-number"),
    pytest.param("s > :a", {":a": "Z"}, True, id="strings-by-bytes"),
    pytest.param("n BETWEEN :one AND :two", {":one": 1, ":two": 2}, True, id="between"),
    pytest.param("s IN (:a, :b)", {":a": "x", ":b": "abc"}, True, id="in"),
    pytest.param("attribute_exists(m.vals[1])", None, True, id="nested-path-exists"),
    pytest.param("attribute_not_exists(m.vals[5])", None, True, id="index-past-end"),
    pytest.param("attribute_type(tags, :ss)", {":ss": "SS"}, True, id="attribute-type"),
    pytest.param("begins_with(s, :p)", {":p": "ab"}, True, id="begins-with"),
    pytest.param("contains(s, :p)", {":p": "bc"}, True, id="contains-substring"),
    pytest.param("contains(tags, :t)", {":t": "red"}, True, id="contains-set-member"),
    pytest.param("contains(m.vals, :v)", {":v": 2}, True, id="contains-list-element"),
    pytest.param("size(s) = :three", {":three": 3}, True, id="size-of-string"),
    pytest.param("size(tags) > :one", {":one": 1}, True, id="size-of-set"),
    pytest.param("NOT (n = :one OR s = :a)", {":one": 1, ":a": "abc"}, False, id="not-or"),
    pytest.param(
        "n = :one or s = :x and flag = :f",
        {":one": 1, ":x": "x", ":f": False},
        True,
        id="and-binds-tighter-than-or",
    ),
    pytest.param("m.#k = :v", {":v": "deep"}, True, id="name-placeholder-in-path"),
    # Each side of AND and OR decides (mutation testing found no test where one side was false).
    pytest.param("n = :one AND s = :x", {":one": 1, ":x": "x"}, False, id="and-right-false"),
    pytest.param("s = :x AND n = :one", {":one": 1, ":x": "x"}, False, id="and-left-false"),
    pytest.param("n = :two OR s = :a", {":two": 2, ":a": "abc"}, True, id="or-right-true"),
    pytest.param("n = :two OR s = :x", {":two": 2, ":x": "x"}, False, id="or-both-false"),
    pytest.param("absent IN (:a, :b)", {":a": "x", ":b": "abc"}, False, id="in-missing"),
    pytest.param("n IN (:s, :two)", {":s": "1", ":two": 2}, False, id="in-no-same-typed"),
    pytest.param("contains(tags, :n)", {":n": 1}, False, id="contains-other-type-in-set"),
    pytest.param("contains(s, :n)", {":n": 1}, False, id="contains-number-in-string"),
    pytest.param("contains(absent, :p)", {":p": "a"}, False, id="contains-on-missing"),
    pytest.param("begins_with(n, :p)", {":p": "1"}, False, id="begins-with-on-a-number"),
    pytest.param("attribute_type(absent, :s)", {":s": "S"}, False, id="type-of-missing"),
    pytest.param("size(m.vals) = :two", {":two": 2}, True, id="size-of-list"),
    # Operands that are paths into the item, not values (each read from the item, with its names).
    pytest.param("n BETWEEN m.vals[0] AND :two", {":two": 2}, True, id="between-a-path-bound"),
    pytest.param("n BETWEEN :z AND m.vals[0]", {":z": 0}, True, id="between-a-path-upper-bound"),
    pytest.param("n IN (:z, m.vals[0])", {":z": 0}, True, id="in-a-path"),
    pytest.param("begins_with(s, pre)", None, True, id="begins-with-a-path"),
    pytest.param("contains(s, pre)", None, True, id="contains-a-path"),
    pytest.param("contains(m.vals, n)", None, True, id="contains-a-path-in-a-list"),
    pytest.param("attribute_type(m.#k, :s)", {":s": "S"}, True, id="type-under-a-name"),
    pytest.param("size(m.#k) = :four", {":four": 4}, True, id="size-under-a-name"),
    pytest.param("contains(n, :one)", {":one": 1}, False, id="contains-in-a-number"),
    pytest.param("contains(m, :k)", {":k": "key"}, False, id="contains-in-a-map"),
    pytest.param("begins_with(s, :p)", {":p": "bc"}, False, id="begins-with-another-prefix"),
    pytest.param("contains(s, absent)", None, False, id="contains-a-missing-path"),
    pytest.param("contains(tags, :g)", {":g": "green"}, False, id="contains-not-in-the-set"),
]


@pytest.mark.parametrize(("condition", "values", "passes"), CONDITIONS)
def test_conditions_evaluate_as_dynamodb(
    users: LocalTable, condition: str, values: dict[str, Any] | None, passes: bool
) -> None:
    item = {
        "user_id": "u",
        "n": 1,
        "flag": True,
        "s": "abc",
        "tags": {"red", "blue"},
        "m": {"vals": [1, 2], "key": "deep"},
        "pre": "ab",
    }
    users.put_item(Item=item)
    params: dict[str, Any] = {"ConditionExpression": condition}
    if values:
        params["ExpressionAttributeValues"] = values
    if "#k" in condition:
        params["ExpressionAttributeNames"] = {"#k": "key"}

    if passes:
        users.put_item(Item=item, **params)
    else:
        with pytest.raises(ClientError) as error:
            users.put_item(Item=item, **params)
        assert error.value.response["Error"]["Code"] == "ConditionalCheckFailedException"


UPDATES = [
    pytest.param("SET a = :v", {":v": 5}, {"a": 5}, id="set"),
    pytest.param("SET n = n + :one", {":one": 1}, {"n": 2}, id="increment"),
    pytest.param("SET n = :one - n", {":one": 1}, {"n": 0}, id="subtract"),
    pytest.param("SET c = if_not_exists(c, :z)", {":z": 0}, {"c": 0}, id="if-not-exists-absent"),
    pytest.param("SET n = if_not_exists(n, :z)", {":z": 0}, {}, id="if-not-exists-present"),
    pytest.param(
        "SET l = list_append(l, :more)", {":more": [3]}, {"l": [1, 2, 3]}, id="list-append"
    ),
    pytest.param(
        "SET l = list_append(:front, l)", {":front": [0]}, {"l": [0, 1, 2]}, id="list-prepend"
    ),
    pytest.param("SET l[1] = :x", {":x": "x"}, {"l": [1, "x"]}, id="set-list-element"),
    pytest.param("SET l[9] = :x", {":x": "x"}, {"l": [1, 2, "x"]}, id="set-past-end-appends"),
    pytest.param("SET m.k = :x", {":x": "x"}, {"m": {"k": "x"}}, id="set-nested"),
    pytest.param("REMOVE n, l[0]", None, {"n": None, "l": [2]}, id="remove"),
    pytest.param("ADD n :two", {":two": 2}, {"n": 3}, id="add-number"),
    pytest.param("ADD fresh :two", {":two": 2}, {"fresh": 2}, id="add-to-missing"),
    pytest.param("ADD tags :t", {":t": {"c"}}, {"tags": {"a", "b", "c"}}, id="add-to-set"),
    pytest.param("DELETE tags :t", {":t": {"a"}}, {"tags": {"b"}}, id="delete-from-set"),
    pytest.param(
        "DELETE tags :t",
        {":t": {"a", "b"}},
        {"tags": None},
        id="delete-last-members-removes-attribute",
    ),
    pytest.param(
        "SET a = :v REMOVE n ADD c :one",
        {":v": 1, ":one": 1},
        {"a": 1, "n": None, "c": 1},
        id="several-clauses",
    ),
]


@pytest.mark.parametrize(("expression", "values", "changes"), UPDATES)
def test_update_expressions_change_the_item_as_dynamodb(
    users: LocalTable, expression: str, values: dict[str, Any] | None, changes: dict[str, Any]
) -> None:
    before = {"user_id": "u", "n": 1, "l": [1, 2], "m": {}, "tags": {"a", "b"}}
    users.put_item(Item=before)
    params: dict[str, Any] = {"UpdateExpression": expression}
    if values:
        params["ExpressionAttributeValues"] = values

    users.update_item(Key={"user_id": "u"}, **params)

    expected = {**before, **changes}
    assert users.get_item(Key={"user_id": "u"})["Item"] == {
        k: v for k, v in expected.items() if v is not None
    }


def test_update_of_a_missing_item_creates_it_with_its_key(posts: LocalTable) -> None:
    response = posts.update_item(
        Key={"thread": "t", "seq": 1},
        UpdateExpression="SET hits = if_not_exists(hits, :zero) + :one",
        ExpressionAttributeValues={":zero": 0, ":one": 1},
        ReturnValues="ALL_NEW",
    )

    assert response["Attributes"] == {"thread": "t", "seq": 1, "hits": 1}


RETURN_VALUES = [
    pytest.param("NONE", None, id="none"),
    pytest.param("ALL_OLD", {"user_id": "u", "a": 1, "b": 1}, id="all-old"),
    pytest.param("ALL_NEW", {"user_id": "u", "a": 2, "b": 1}, id="all-new"),
    pytest.param("UPDATED_OLD", {"a": 1}, id="updated-old"),
    pytest.param("UPDATED_NEW", {"a": 2}, id="updated-new"),
]


@pytest.mark.parametrize(("returns", "attributes"), RETURN_VALUES)
def test_update_returns_what_return_values_asks_for(
    users: LocalTable, returns: str, attributes: dict[str, Any] | None
) -> None:
    users.put_item(Item={"user_id": "u", "a": 1, "b": 1})

    response = users.update_item(
        Key={"user_id": "u"},
        UpdateExpression="SET a = a + :one",
        ExpressionAttributeValues={":one": 1},
        ReturnValues=returns,
    )

    assert response.get("Attributes") == attributes


def test_put_and_delete_return_the_old_item_when_asked(users: LocalTable) -> None:
    assert "Attributes" not in users.put_item(Item={"user_id": "u", "v": 1}, ReturnValues="ALL_OLD")
    replaced = users.put_item(Item={"user_id": "u", "v": 2}, ReturnValues="ALL_OLD")
    deleted = users.delete_item(Key={"user_id": "u"}, ReturnValues="ALL_OLD")

    assert replaced["Attributes"] == {"user_id": "u", "v": 1}
    assert deleted["Attributes"] == {"user_id": "u", "v": 2}


def test_projection_returns_only_the_named_paths(users: LocalTable) -> None:
    users.put_item(Item={"user_id": "u", "a": 1, "m": {"x": 1, "y": 2}, "l": [10, 20, 30]})

    item = users.get_item(
        Key={"user_id": "u"},
        ProjectionExpression="#a, m.y, l[2], l[0], nothing",
        ExpressionAttributeNames={"#a": "a"},
    )["Item"]

    assert item == {"a": 1, "m": {"y": 2}, "l": [10, 30]}


def test_the_store_api_answers_plain_python_values(store: TableStore) -> None:
    store.put_item("users", {"user_id": "u", "b": b"1", "n": 5})

    old = store.put_item("users", {"user_id": "u"}, returns="ALL_OLD")

    assert old == {"user_id": "u", "b": b"1", "n": Decimal(5)}
    with pytest.raises(ConditionalCheckFailed):
        store.delete_item("users", {"user_id": "u"}, condition="attribute_exists(b)")


BETWEEN_BOUNDS = [
    pytest.param(1, 1, 2, True, id="number-at-lower-bound"),
    pytest.param(2, 1, 2, True, id="number-at-upper-bound"),
    pytest.param(Decimal("1.5"), 1, 2, True, id="number-inside"),
    pytest.param(0, 1, 2, False, id="number-below"),
    pytest.param(3, 1, 2, False, id="number-above"),
    pytest.param(Decimal("2.0001"), 1, 2, False, id="number-just-above"),
    pytest.param(5, 5, 5, True, id="number-equal-bounds"),
    pytest.param("b", "b", "d", True, id="string-at-lower-bound"),
    pytest.param("d", "b", "d", True, id="string-at-upper-bound"),
    pytest.param("da", "b", "d", False, id="string-past-upper-bound"),
    pytest.param(b"\x02", b"\x01", b"\x02", True, id="binary-at-upper-bound"),
    pytest.param(b"\x00", b"\x01", b"\x02", False, id="binary-below"),
    pytest.param("1", 1, 2, False, id="string-against-number-bounds"),
]


@pytest.mark.parametrize(("value", "low", "high", "passes"), BETWEEN_BOUNDS)
def test_between_includes_both_bounds_in_a_condition(
    users: LocalTable, value: Any, low: Any, high: Any, passes: bool
) -> None:
    users.put_item(Item={"user_id": "u", "v": value})
    params: dict[str, Any] = {
        "ConditionExpression": "v BETWEEN :low AND :high",
        "ExpressionAttributeValues": {":low": low, ":high": high},
    }
    if passes:
        users.put_item(Item={"user_id": "u", "v": value, "seen": True}, **params)
        assert users.get_item(Key={"user_id": "u"})["Item"]["seen"] is True
    else:
        with pytest.raises(ClientError) as error:
            users.put_item(Item={"user_id": "u", "v": value, "seen": True}, **params)
        assert error.value.response["Error"]["Code"] == "ConditionalCheckFailedException"


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        pytest.param(2, 4, [2, 3, 4], id="both-bounds-kept"),
        pytest.param(4, 4, [4], id="one-value"),
        pytest.param(Decimal("1.5"), Decimal("2.5"), [2], id="between-items"),
        pytest.param(5, 9, [5], id="upper-past-the-last"),
    ],
)
def test_between_includes_both_bounds_in_a_key_condition_and_a_filter(
    posts: LocalTable, low: Any, high: Any, expected: list[int]
) -> None:
    for seq in range(1, 6):
        posts.put_item(Item={"thread": "t", "seq": seq, "twin": seq})
    values = {":t": "t", ":low": low, ":high": high}
    keyed = posts.query(
        KeyConditionExpression="thread = :t AND seq BETWEEN :low AND :high",
        ExpressionAttributeValues=values,
    )
    filtered = posts.query(
        KeyConditionExpression="thread = :t",
        FilterExpression="twin BETWEEN :low AND :high",
        ExpressionAttributeValues=values,
    )
    assert [int(i["seq"]) for i in keyed["Items"]] == expected
    assert [int(i["seq"]) for i in filtered["Items"]] == expected


def test_the_stores_writes_answer_nothing_unless_asked(store: TableStore) -> None:
    store.put_item("users", {"user_id": "u", "n": 0})
    assert store.put_item("users", {"user_id": "u", "n": 1}) is None  # it replaced one
    assert (
        store.update_item("users", {"user_id": "u"}, update="SET n = :t", values={":t": 2}) is None
    )
    assert store.get_item("users", {"user_id": "u"}) == {"user_id": "u", "n": 2}
    assert store.delete_item("users", {"user_id": "u"}) is None
    assert store.get_item("users", {"user_id": "u"}) is None


def test_updated_old_of_an_item_the_update_creates_is_nothing(users: LocalTable) -> None:
    answer = users.update_item(
        Key={"user_id": "new"},
        UpdateExpression="SET n = :one",
        ExpressionAttributeValues={":one": 1},
        ReturnValues="UPDATED_OLD",
    )
    assert "Attributes" not in answer
    assert users.get_item(Key={"user_id": "new"})["Item"] == {"user_id": "new", "n": 1}


def test_an_updates_names_and_values_reach_its_update_and_its_condition(store: TableStore) -> None:
    store.put_item("users", {"user_id": "u", "n": 1, "group": "a"})
    store.update_item(
        "users",
        {"user_id": "u"},
        update="SET #n = #n + :one",
        condition="#g = :who",
        names={"#n": "n", "#g": "group"},  # #g and :who only in the condition
        values={":one": 1, ":who": "a"},
    )
    assert store.get_item("users", {"user_id": "u"}) == {"user_id": "u", "n": 2, "group": "a"}
    with pytest.raises(ConditionalCheckFailed):
        store.update_item(
            "users",
            {"user_id": "u"},
            update="SET #n = #n + :one",
            condition="#g = :who",
            names={"#n": "n", "#g": "group"},
            values={":one": 1, ":who": "b"},
        )


def test_an_update_without_an_update_expression_creates_the_item_from_its_key(
    users: LocalTable,
) -> None:
    users.update_item(Key={"user_id": "bare"})
    assert users.get_item(Key={"user_id": "bare"})["Item"] == {"user_id": "bare"}
