"""Contract: table definitions, TTL, concurrency, and what survives a restart."""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from pizzabus.errors import DefinitionError
from pizzabus.sdk.dynamodb import DynamoDBResource, LocalTable
from pizzabus.system import GlobalIndex, KeyAttribute, Table
from pizzabus.tables import SqliteTableStore, TableNotFound, TableStore
from pizzabus.tables.engine import TTL_HORIZON_SECONDS
from tests.tables.conftest import POSTS, SPECS, USERS

NOW = 1_700_000_000


def test_create_table_again_with_the_same_definition_changes_nothing(store: TableStore) -> None:
    store.put_item("users", {"user_id": "u"})

    store.create_table(USERS)

    assert store.get_item("users", {"user_id": "u"}) == {"user_id": "u"}
    assert store.describe("users") == USERS


def test_create_table_with_another_key_says_what_differs_and_how_to_fix_it(
    store: TableStore,
) -> None:
    changed = replace(USERS, sort_key=KeyAttribute("joined", "N"))

    with pytest.raises(DefinitionError) as error:
        store.create_table(changed)

    assert re.fullmatch(
        r"table 'users' already exists in .+ keyed by user_id \(S\), but the definition now "
        r"keys it by user_id \(S\) \+ joined \(N\)\. A table's key cannot change \(nor can "
        r"it on DynamoDB\): delete the data directory \(\.pizzabus/ by default\) to start "
        r"afresh, or run with --memory",
        error.value.message,
    )


def test_describe_of_an_unknown_table_names_the_known_ones(store: TableStore) -> None:
    with pytest.raises(TableNotFound, match=r"Requested resource not found.*posts"):
        store.describe("nope")


def test_a_new_index_is_filled_from_the_existing_items(store: TableStore) -> None:
    store.put_item("users", {"user_id": "a", "email": "a@x"})
    store.put_item("users", {"user_id": "b", "email": 7})  # wrong type: left out, as on AWS
    store.put_item("users", {"user_id": "c"})

    store.create_table(replace(USERS, indexes=(GlobalIndex("by_email", KeyAttribute("email")),)))

    page = store.query("users", index="by_email", key_condition="email = :e", values={":e": "a@x"})
    assert [i["user_id"] for i in page.items] == ["a"]
    assert store.scan("users", index="by_email").count == 1


def test_ttl_sweep_deletes_items_whose_ttl_number_has_passed(
    posts: LocalTable, store: TableStore
) -> None:
    expiries = {1: NOW - 1, 2: NOW, 3: NOW + 1, 4: "not a number", 5: NOW - 6 * 365 * 86400}
    for seq, expires in expiries.items():
        posts.put_item(
            Item={"thread": "t", "seq": seq, "expires_at": expires, "author": "a", "posted": seq}
        )
    posts.put_item(Item={"thread": "t", "seq": 6})

    deleted = store.delete_expired(NOW)

    left = [
        i["seq"]
        for i in posts.query(
            KeyConditionExpression="thread = :t", ExpressionAttributeValues={":t": "t"}
        )["Items"]
    ]
    assert deleted == 2
    assert left == [3, 4, 5, 6]  # five years past: DynamoDB ignores it
    by_author = posts.query(
        IndexName="by_author",
        KeyConditionExpression="author = :a",
        ExpressionAttributeValues={":a": "a"},
    )
    assert [i["seq"] for i in by_author["Items"]] == [3, 4, 5]


def test_ttl_sweep_compares_exact_numbers(store: TableStore) -> None:
    store.put_item("posts", {"thread": "t", "seq": 1, "expires_at": Decimal(NOW) + Decimal("1E-9")})

    assert store.delete_expired(NOW) == 0
    assert store.delete_expired(NOW + 1) == 1


#: Five years before ``NOW + 0.5``, exactly: the oldest expiry DynamoDB's TTL still acts on.
_HORIZON = Decimal(NOW - TTL_HORIZON_SECONDS) + Decimal("0.5")


@pytest.mark.parametrize(
    ("expires", "deleted"),
    [
        pytest.param(_HORIZON, True, id="exactly-five-years-ago"),
        pytest.param(_HORIZON - Decimal("1E-9"), False, id="just-older"),
        pytest.param(Decimal(NOW) + Decimal("0.5"), True, id="half-a-second-ago"),
        pytest.param(Decimal(NOW) + Decimal("0.5") + Decimal("1E-9"), False, id="just-after-now"),
    ],
)
def test_ttl_sweep_boundaries_are_inclusive(
    store: TableStore, expires: Decimal, deleted: bool
) -> None:
    store.put_item("posts", {"thread": "t", "seq": 1, "expires_at": expires})
    store.put_item("users", {"user_id": "u", "expires_at": NOW - 1})  # users keeps no TTL

    assert store.delete_expired(NOW + 0.5) == int(deleted)
    left = store.get_item("posts", {"thread": "t", "seq": 1})
    assert (left is None) is deleted
    assert store.get_item("users", {"user_id": "u"}) is not None


def test_ttl_sweep_counts_each_table_and_item_it_deletes(store: TableStore) -> None:
    store.create_table(replace(USERS, ttl_attribute="expires_at"))
    for n in range(3):
        store.put_item("posts", {"thread": "t", "seq": n, "expires_at": NOW - n})
        store.put_item("users", {"user_id": f"u{n}", "expires_at": NOW - n})

    assert store.delete_expired(NOW) == 6
    assert store.scan("posts").items == store.scan("users").items == []


def test_concurrent_conditional_puts_have_exactly_one_winner(posts: LocalTable) -> None:
    threads = 16
    start = threading.Barrier(threads)
    outcomes: list[str] = []

    def claim(worker: int) -> None:
        start.wait()
        try:
            posts.put_item(
                Item={"thread": "lock", "seq": 0, "owner": worker},
                ConditionExpression="attribute_not_exists(thread)",
            )
            outcomes.append("won")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])

    workers = [threading.Thread(target=claim, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert sorted(outcomes) == ["ConditionalCheckFailedException"] * (threads - 1) + ["won"]


def test_concurrent_counter_updates_lose_no_increment(posts: LocalTable) -> None:
    def bump() -> None:
        for _ in range(25):
            posts.update_item(
                Key={"thread": "c", "seq": 0},
                UpdateExpression="ADD hits :one",
                ExpressionAttributeValues={":one": 1},
            )

    workers = [threading.Thread(target=bump) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert posts.get_item(Key={"thread": "c", "seq": 0})["Item"]["hits"] == 200


def test_batch_writer_writes_puts_and_deletes(users: LocalTable) -> None:
    with users.batch_writer() as batch:
        for n in range(30):
            batch.put_item(Item={"user_id": f"u{n}"})
        batch.delete_item(Key={"user_id": "u0"})

    assert users.scan(Select="COUNT")["Count"] == 29


def test_sqlite_tables_survive_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "tables.sqlite3"
    first = SqliteTableStore(path)
    for spec in SPECS:
        first.create_table(spec)
    table = DynamoDBResource(first).Table("posts")
    table.put_item(
        Item={
            "thread": "t",
            "seq": Decimal("1.5"),
            "author": "ann",
            "posted": 1,
            "b": b"\x00",
            "s": {"x"},
        }
    )
    first.close()

    second = SqliteTableStore(path)
    second.create_table(POSTS)
    again = DynamoDBResource(second).Table("posts")

    assert again.get_item(Key={"thread": "t", "seq": Decimal("1.5")})["Item"] == {
        "thread": "t",
        "seq": Decimal("1.5"),
        "author": "ann",
        "posted": 1,
        "b": b"\x00",
        "s": {"x"},
    }
    assert (
        again.query(
            IndexName="by_author",
            KeyConditionExpression="author = :a",
            ExpressionAttributeValues={":a": "ann"},
        )["Count"]
        == 1
    )
    assert second.describe("users") == USERS
    second.close()


def test_sqlite_refuses_a_changed_key_after_reopen_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tables.sqlite3"
    first = SqliteTableStore(path)
    first.create_table(USERS)
    first.close()

    reopened = SqliteTableStore(path)
    with pytest.raises(DefinitionError, match=str(path)):
        reopened.create_table(replace(USERS, partition_key=KeyAttribute("user_id", "N")))
    reopened.close()


def test_an_item_left_out_of_one_new_index_still_fills_the_next(store: TableStore) -> None:
    store.put_item("users", {"user_id": "a", "email": 7, "team": "red"})  # email: wrong type

    store.create_table(
        replace(
            USERS,
            indexes=(
                GlobalIndex("by_email", KeyAttribute("email")),
                GlobalIndex("by_team", KeyAttribute("team")),
            ),
        )
    )

    assert store.scan("users", index="by_email").count == 0
    page = store.query("users", index="by_team", key_condition="team = :t", values={":t": "red"})
    assert [i["user_id"] for i in page.items] == ["a"]


def test_ttl_turned_on_later_applies_to_the_items_already_stored(store: TableStore) -> None:
    store.put_item("users", {"user_id": "old", "expires_at": NOW - 1})
    store.put_item("users", {"user_id": "later", "expires_at": NOW + 1})
    assert store.delete_expired(NOW) == 0  # users keeps no TTL yet

    store.create_table(replace(USERS, ttl_attribute="expires_at"))

    assert store.delete_expired(NOW) == 1
    assert [item["user_id"] for item in store.scan("users").items] == ["later"]


def test_ttl_set_by_an_update_is_swept(store: TableStore) -> None:
    store.put_item("posts", {"thread": "t", "seq": 1})
    store.update_item(
        "posts", {"thread": "t", "seq": 1}, update="SET expires_at = :e", values={":e": NOW - 1}
    )
    assert store.delete_expired(NOW) == 1
    assert store.get_item("posts", {"thread": "t", "seq": 1}) is None


def test_the_sweep_reaches_a_ttl_table_made_after_tables_without_ttl(store: TableStore) -> None:
    later = Table(name="later", partition_key=KeyAttribute("id"), ttl_attribute="expires_at")
    store.create_table(later)  # after users and files, which keep no TTL
    store.put_item("later", {"id": "x", "expires_at": NOW - 1})
    assert store.delete_expired(NOW) == 1
    assert store.get_item("later", {"id": "x"}) is None
