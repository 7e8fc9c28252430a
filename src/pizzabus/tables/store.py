"""The table-store seam: what every backend (memory, SQLite, ...) offers the runtime.

The operations are DynamoDB's, with DynamoDB's semantics, spelled for Python: items are plain
values (see :mod:`pizzabus.tables.values`), expressions are DynamoDB expression strings with
their ``names`` and ``values`` mappings, options are keyword-only. A store is synchronous and
thread-safe: handlers call it from worker threads, and every operation is atomic (a conditional
write is checked and applied as one step).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pizzabus.system import Table
from pizzabus.tables.transactions import TransactWrite
from pizzabus.tables.values import Item

ReturnValues = Literal["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"]
Names = Mapping[str, str]
Values = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a query or scan.

    ``scanned_count`` counts items read before the filter; ``last_key`` is DynamoDB's
    ``LastEvaluatedKey``: pass it as ``start_key`` to read the next page; ``None`` when the
    read reached the end.
    """

    items: list[Item] = field(default_factory=list)
    scanned_count: int = 0
    last_key: Item | None = None

    @property
    def count(self) -> int:
        return len(self.items)


class TableStore(Protocol):
    """DynamoDB-shaped tables. Every method raises :class:`TableNotFound` for an unknown table,
    :class:`TableValidationError` for what DynamoDB would refuse, and
    :class:`ConditionalCheckFailed` when a condition is false (then nothing changes)."""

    def create_table(self, spec: Table) -> None:
        """Create the table, or do nothing if it exists with this key schema.

        Indexes and the TTL attribute follow ``spec`` (new indexes are filled from the items,
        as DynamoDB backfills a new index). A different key schema raises ``DefinitionError``.
        """

    def describe(self, name: str) -> Table:
        """The table's definition."""

    def put_item(
        self,
        table: str,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Names | None = None,
        values: Values | None = None,
        returns: ReturnValues = "NONE",
    ) -> Item | None:
        """Write the whole item; ``returns="ALL_OLD"`` answers the item it replaced."""

    def get_item(
        self,
        table: str,
        key: Mapping[str, Any],
        *,
        projection: str | None = None,
        names: Names | None = None,
    ) -> Item | None:
        """The item with this key (only the projected attributes, if ``projection``)."""

    def delete_item(
        self,
        table: str,
        key: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Names | None = None,
        values: Values | None = None,
        returns: ReturnValues = "NONE",
    ) -> Item | None:
        """Delete the item (absent is fine); ``returns="ALL_OLD"`` answers what it was."""

    def update_item(
        self,
        table: str,
        key: Mapping[str, Any],
        *,
        update: str | None = None,
        condition: str | None = None,
        names: Names | None = None,
        values: Values | None = None,
        returns: ReturnValues = "NONE",
    ) -> Item | None:
        """Apply an UpdateExpression, creating the item if it does not exist; answers what
        ``returns`` asks for (``None`` for ``"NONE"`` or nothing to return)."""

    def query(
        self,
        table: str,
        *,
        key_condition: str,
        filter: str | None = None,
        index: str | None = None,
        names: Names | None = None,
        values: Values | None = None,
        limit: int | None = None,
        start_key: Mapping[str, Any] | None = None,
        forward: bool = True,
        projection: str | None = None,
    ) -> Page:
        """Items of one partition (of the table or of a global index) in sort-key order.

        ``limit`` bounds the items read (before ``filter``), and a page stops after 1 MB, as in
        DynamoDB; then ``Page.last_key`` is set.
        """

    def scan(
        self,
        table: str,
        *,
        filter: str | None = None,
        index: str | None = None,
        names: Names | None = None,
        values: Values | None = None,
        limit: int | None = None,
        start_key: Mapping[str, Any] | None = None,
        projection: str | None = None,
        segment: int = 0,
        total_segments: int = 1,
    ) -> Page:
        """Every item of the table (or index), a page at a time; ``segment`` of
        ``total_segments`` reads one disjoint share, for parallel scans."""

    def transact_write(self, actions: Sequence[TransactWrite]) -> None:
        """TransactWriteItems: all actions happen, or none; :class:`TransactionCanceled`
        (one reason per action) when a condition is false."""

    def delete_expired(self, now: float) -> int:
        """DynamoDB TTL: delete items whose TTL attribute is a number of epoch seconds ``<= now``
        (and not more than five years old, which DynamoDB ignores). Answers how many."""

    def close(self) -> None:
        """Release the store's resources; it must not be used afterwards."""
