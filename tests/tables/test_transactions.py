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
