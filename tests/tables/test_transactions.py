"""Contract: TransactWriteItems writes all of its actions or none, on every store."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pizzabus.tables import TableStore, TableValidationError, TransactionCanceled, TransactWrite


def _seed(store: TableStore) -> None:
    store.put_item("users", {"user_id": "ann", "credits": Decimal(10)})
    store.put_item("posts", {"thread": "t", "seq": Decimal(1), "author": "ann", "posted": 1})


def test_every_action_is_written_when_every_condition_holds(store: TableStore) -> None:
    _seed(store)
    store.transact_write(
        [
            TransactWrite(
                "Update",
                "users",
                {"user_id": "ann"},
                update="SET credits = credits - :one",
                condition="credits >= :one",
                values={":one": Decimal(1)},
            ),
            TransactWrite("Put", "posts", {"thread": "t", "seq": Decimal(2), "author": "ann"}),
            TransactWrite("Delete", "posts", {"thread": "t", "seq": Decimal(1)}),
            TransactWrite(
                "ConditionCheck",
                "users",
                {"user_id": "bob"},
                condition="attribute_not_exists(user_id)",
            ),
        ]
    )
    assert store.get_item("users", {"user_id": "ann"}) == {
        "user_id": "ann",
        "credits": Decimal(9),
    }
    assert store.get_item("posts", {"thread": "t", "seq": Decimal(1)}) is None
    assert store.get_item("posts", {"thread": "t", "seq": Decimal(2)}) is not None
    by_author = store.query(
        "posts",
        index="by_author",
        key_condition="author = :a",
        values={":a": "ann"},
    )
    assert by_author.items == []  # the new post has no posted time, the old one is gone


def test_one_false_condition_cancels_the_whole_transaction(store: TableStore) -> None:
    _seed(store)
    with pytest.raises(TransactionCanceled) as canceled:
        store.transact_write(
            [
                TransactWrite("Put", "posts", {"thread": "t", "seq": Decimal(3)}),
                TransactWrite(
                    "Update",
                    "users",
                    {"user_id": "ann"},
                    update="SET credits = :zero",
                    condition="credits > :many",
                    values={":zero": Decimal(0), ":many": Decimal(100)},
                ),
            ]
        )
    assert [reason["Code"] for reason in canceled.value.reasons] == [
        "None",
        "ConditionalCheckFailed",
    ]
    assert store.get_item("posts", {"thread": "t", "seq": Decimal(3)}) is None
    assert store.get_item("users", {"user_id": "ann"}) == {
        "user_id": "ann",
        "credits": Decimal(10),
    }


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (
            [],
            "Member must have length less than or equal to 100 and greater than or equal to 1: "
            "this transaction has 0 actions",
        ),
        (
            [TransactWrite("Put", "users", {"user_id": f"u{n}"}) for n in range(101)],
            "Member must have length less than or equal to 100 and greater than or equal to 1: "
            "this transaction has 101 actions",
        ),
        (
            [
                TransactWrite("Put", "users", {"user_id": "x"}),
                TransactWrite("Delete", "users", {"user_id": "x"}),
            ],
            "Transaction request cannot include multiple operations on one item",
        ),
        (
            [TransactWrite("ConditionCheck", "users", {"user_id": "x"})],
            "A ConditionCheck needs a ConditionExpression",
        ),
    ],
    ids=["empty", "over-100", "same-item-twice", "check-without-condition"],
)
def test_malformed_transactions_are_refused_whole(
    store: TableStore, actions: list[TransactWrite], message: str
) -> None:
    with pytest.raises(TableValidationError) as error:
        store.transact_write(actions)
    assert error.value.message == message
    assert store.get_item("users", {"user_id": "x"}) is None


def test_a_transaction_of_exactly_100_actions_is_written(store: TableStore) -> None:
    store.transact_write([TransactWrite("Put", "users", {"user_id": f"u{n}"}) for n in range(100)])
    assert store.scan("users").count == 100


def test_a_canceled_transaction_gives_dynamodbs_reason_for_each_action(
    store: TableStore,
) -> None:
    _seed(store)
    with pytest.raises(TransactionCanceled) as canceled:
        store.transact_write(
            [
                TransactWrite(
                    "ConditionCheck", "users", {"user_id": "ann"}, condition="credits > :c",
                    values={":c": Decimal(100)},
                ),
                TransactWrite("Put", "users", {"user_id": "bob"}),
            ]
        )  # fmt: skip
    assert canceled.value.reasons == [
        {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"},
        {"Code": "None"},
    ]


def test_a_condition_check_writes_nothing_whether_or_not_its_item_exists(
    store: TableStore,
) -> None:
    _seed(store)
    store.transact_write(
        [
            TransactWrite(
                "ConditionCheck", "users", {"user_id": "ann"}, condition="#c = :ten",
                names={"#c": "credits"}, values={":ten": Decimal(10)},
            ),
            TransactWrite(
                "ConditionCheck", "users", {"user_id": "nobody"},
                condition="attribute_not_exists(#id)", names={"#id": "user_id"},
            ),
            TransactWrite("Delete", "users", {"user_id": "ghost"}),
        ]
    )  # fmt: skip
    # Not rewritten as its key alone, and nothing created for the missing ones.
    assert store.get_item("users", {"user_id": "ann"}) == {"user_id": "ann", "credits": 10}
    assert store.get_item("users", {"user_id": "nobody"}) is None
    assert store.get_item("users", {"user_id": "ghost"}) is None
    assert store.scan("users").count == 1


def test_conditions_of_puts_and_deletes_read_their_names_and_values(store: TableStore) -> None:
    _seed(store)
    with pytest.raises(TransactionCanceled) as canceled:
        store.transact_write(
            [
                TransactWrite(
                    "Put", "users", {"user_id": "ann", "credits": Decimal(1)},
                    condition="#c < :floor", names={"#c": "credits"}, values={":floor": 5},
                ),
                TransactWrite(
                    "Delete", "posts", {"thread": "t", "seq": Decimal(1)},
                    condition="#a = :who", names={"#a": "author"}, values={":who": "ann"},
                ),
            ]
        )  # fmt: skip
    assert [reason["Code"] for reason in canceled.value.reasons] == [
        "ConditionalCheckFailed",
        "None",
    ]
    assert store.get_item("users", {"user_id": "ann"}) == {"user_id": "ann", "credits": 10}


def test_an_update_with_names_creates_a_missing_item_from_its_key(store: TableStore) -> None:
    store.transact_write(
        [
            TransactWrite(
                "Update", "users", {"user_id": "new"}, update="SET #c = :c",
                condition="attribute_not_exists(#id)",
                names={"#c": "credits", "#id": "user_id"}, values={":c": Decimal(3)},
            )
        ]
    )  # fmt: skip
    assert store.get_item("users", {"user_id": "new"}) == {"user_id": "new", "credits": 3}


def test_an_update_condition_is_read_as_a_condition(store: TableStore) -> None:
    _seed(store)
    with pytest.raises(TableValidationError) as error:
        store.transact_write(
            [
                TransactWrite(
                    "Update", "users", {"user_id": "ann"}, update="SET credits = :c",
                    condition="SET credits = :c", values={":c": Decimal(3)},
                )
            ]
        )  # fmt: skip
    assert error.value.message == (
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: SET"
    )
    assert store.get_item("users", {"user_id": "ann"}) == {"user_id": "ann", "credits": 10}


def test_transaction_writes_keep_indexes_and_ttl_as_single_writes_do(store: TableStore) -> None:
    _seed(store)
    store.transact_write(
        [
            TransactWrite(
                "Put", "posts",
                {"thread": "u", "seq": Decimal(1), "author": "bob", "posted": 5, "expires_at": 99},
            ),
            TransactWrite(
                "Update", "posts", {"thread": "t", "seq": Decimal(1)},
                update="SET author = :b, expires_at = :gone", values={":b": "bob", ":gone": 98},
            ),
        ]
    )  # fmt: skip
    by_bob = store.query(
        "posts", index="by_author", key_condition="author = :a", values={":a": "bob"}
    )
    assert sorted(item["thread"] for item in by_bob.items) == ["t", "u"]
    by_ann = store.query(
        "posts", index="by_author", key_condition="author = :a", values={":a": "ann"}
    )
    assert by_ann.items == []  # moved out of ann's partition of the index
    assert store.delete_expired(100) == 2  # both carry an expiry now, through the transaction
    assert store.scan("posts").items == []
