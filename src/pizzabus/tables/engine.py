"""DynamoDB's semantics, written once over a few storage hooks.

:class:`Engine` implements :class:`~pizzabus.tables.store.TableStore`: it validates requests,
evaluates conditions, applies updates, keeps global-index entries and pages through queries.
A backend (:mod:`~pizzabus.tables.memory`, :mod:`~pizzabus.tables.sqlite`) only stores and
finds: it implements the ``_`` hooks below, each called with the engine's lock held, so every
operation is one atomic step.

The seam for a store shared by several processes is :meth:`Engine._apply`: every write is a
pure decision over the item as it is (``decide(old)`` answers the write, or raises
:class:`ConditionalCheckFailed`), and the backend applies it atomically. The embedded stores
read and write under their lock and transaction; a shared one (PostgreSQL) instead reads the
item with its revision and writes only if the revision is unchanged, deciding again when it
changed (compare-and-set), so its round trips hold no lock across the network.
:meth:`Engine._transact` is the same seam for TransactWriteItems: one pure decision over all
the transaction's items, which the backend applies all at once.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import Any, ClassVar

from pizzabus.errors import DefinitionError
from pizzabus.system import GlobalIndex, Table
from pizzabus.tables.conditions import Env
from pizzabus.tables.errors import ConditionalCheckFailed, TableNotFound, TableValidationError
from pizzabus.tables.expressions import (
    CONDITION,
    FILTER,
    PROJECTION,
    UPDATE,
    Parsed,
    bind,
    parse_optional,
)
from pizzabus.tables.keys import (
    KeyValue,
    SortRange,
    describe_schema,
    index_key,
    item_key,
    key_names,
    request_key,
)
from pizzabus.tables.paths import project
from pizzabus.tables.requests import (
    RETURN_VALUES,
    check_limit,
    check_segments,
    check_spec,
    find_index,
    last_key,
    position,
    projection_paths,
    query_position,
    return_values_error,
    segment_of,
    start_item,
)
from pizzabus.tables.shapes import ConditionShapes, QueryShapes, prepare_query, query_key
from pizzabus.tables.store import Names, Page, ReturnValues, Values
from pizzabus.tables.transactions import MAX_ACTIONS, TransactionCanceled, TransactWrite
from pizzabus.tables.values import Item, copy_item, normalize_item

#: A page of a query or scan stops after this much data, as in DynamoDB.
PAGE_BYTES = 1024 * 1024
#: DynamoDB's TTL ignores expiry times more than five years in the past.
TTL_HORIZON_SECONDS = 5 * 365 * 24 * 3600
_BATCH = 128
_size = itemgetter(1)

#: (index name, index partition key, index sort key)
IndexEntry = tuple[str, KeyValue, KeyValue | None]
#: An item with its size.
Record = tuple[Item, int]


@dataclass(slots=True)
class Write:
    """One item written (``item``) or deleted (``item is None``), with its index entries."""

    pk: KeyValue
    sk: KeyValue | None
    item: Item | None
    size: int
    ttl: Decimal | None
    old_index: list[IndexEntry]
    new_index: list[IndexEntry]


#: A write's decision over the item as it is: the write (None: write nothing) and the answer.
Decide = Callable[[Item | None], tuple[Write | None, Item | None]]
#: An item's table and key.
ItemKey = tuple[Table, KeyValue, KeyValue | None]
#: A transaction's decision over its items as they are (in order): one write (or None) each.
DecideAll = Callable[[list[Item | None]], list[Write | None]]


@dataclass(slots=True)
class _Action:
    """One action of a transaction, parsed and bound, before the items are read."""

    kind: str
    spec: Table
    pk: KeyValue
    sk: KeyValue | None
    base: Item
    condition: Parsed | None
    update: Parsed | None
    env: Env


class Engine(ABC):
    """A :class:`TableStore` over storage hooks; see the module docstring."""

    #: Whether items the hooks answer are the backend's own (so must be copied for callers).
    shares_items: ClassVar[bool] = True
    #: Whether the store is shared with other processes: then every write is a decision the
    #: backend applies in :meth:`_apply` (and may take again); otherwise puts and deletes are
    #: decided and written here, under the lock, with no closure to build.
    shared: ClassVar[bool] = False

    def __init__(self) -> None:
        self._lock: AbstractContextManager[Any] = threading.Lock()
        self._specs: dict[str, Table] = {}
        self._query_shapes = QueryShapes()
        self._condition_shapes = ConditionShapes()

    # -- hooks ----------------------------------------------------------------------------------

    @abstractmethod
    def _where(self) -> str:
        """Where the tables live, for messages (``in memory``, ``in /path/tables.db``)."""

    @abstractmethod
    def _save_spec(self, spec: Table, previous: Table | None) -> None:
        """Keep ``spec``; if ``previous`` differs in indexes or TTL, rebuild them."""

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[None]:
        """A write transaction: everything in it happens, or nothing does."""

    @abstractmethod
    def _get(self, spec: Table, pk: KeyValue, sk: KeyValue | None) -> Record | None: ...

    @abstractmethod
    def _write(self, spec: Table, write: Write) -> None: ...

    @abstractmethod
    def _range(
        self,
        spec: Table,
        index: GlobalIndex | None,
        pk: KeyValue,
        sort: SortRange | None,
        forward: bool,
        after: Any,
        limit: int,
    ) -> list[Record]:
        """Up to ``limit`` records of one partition in order, strictly after position ``after``:
        the sort key for the table, ``(index sk, pk, sk)`` for an index; ``None`` = from the
        start."""

    @abstractmethod
    def _scan(self, spec: Table, index: GlobalIndex | None, after: Any, limit: int) -> list[Record]:
        """Up to ``limit`` records in key order after ``after``: ``(pk, sk)`` for the table,
        ``(index pk, index sk, pk, sk)`` for an index."""

    @abstractmethod
    def _expiring(self, spec: Table, now: float) -> list[Item]:
        """Items whose TTL attribute may be ``<= now`` (the engine checks exactly)."""

    @abstractmethod
    def _close(self) -> None: ...

    def _apply(
        self, spec: Table, pk: KeyValue, sk: KeyValue | None, decide: Decide, blind: Write | None
    ) -> Item | None:
        """Apply ``decide``'s write atomically over the item at the key; answers its answer.

        ``decide`` is pure (a shared store may call it again when the item changed under it).
        ``blind`` (only for a ``shared`` backend) is the write when it does not
        depend on the item (an unconditional put or delete answering nothing), with no old
        index entries: a store may apply it without reading. This default reads and writes
        under the lock and in one transaction."""
        with self._lock, self._transaction():
            found = self._get(spec, pk, sk)
            write, answer = decide(found[0] if found is not None else None)
            if write is not None:
                self._write(spec, write)
            return answer

    # -- tables ---------------------------------------------------------------------------------

    def create_table(self, spec: Table) -> None:
        check_spec(spec)
        with self._lock:
            existing = self._specs.get(spec.name)
            if existing == spec:
                return
            if existing is not None and (existing.partition_key, existing.sort_key) != (
                spec.partition_key,
                spec.sort_key,
            ):
                raise DefinitionError(
                    f"table {spec.name!r} already exists {self._where()} keyed by "
                    f"{describe_schema(existing.partition_key, existing.sort_key)}, but the "
                    f"definition now keys it by "
                    f"{describe_schema(spec.partition_key, spec.sort_key)}. A table's key cannot "
                    "change (nor can it on DynamoDB): delete the data directory (.pizzabus/ by "
                    "default) to start afresh, or run with --memory"
                )
            with self._transaction():
                self._save_spec(spec, existing)
            self._specs[spec.name] = spec

    def describe(self, name: str) -> Table:
        return self._spec(name)

    def _spec(self, name: str) -> Table:
        spec = self._specs.get(name)
        if spec is None:
            raise TableNotFound(name, list(self._specs))
        return spec

    def close(self) -> None:
        with self._lock:
            self._close()

    # -- single items ---------------------------------------------------------------------------

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
        spec = self._spec(table)
        if returns not in ("NONE", "ALL_OLD"):
            raise return_values_error(returns, "ALL_OLD or NONE")
        new, size = normalize_item(item)
        pk, sk = item_key(spec, new)
        new_index = self._index_entries(spec, new) if spec.indexes else []
        parsed, env = self._condition_shapes.bind(condition, names, values)
        write = Write(pk, sk, new, size, _ttl(spec, new), [], new_index)
        if self.shared:

            def decide(old: Item | None) -> tuple[Write | None, Item | None]:
                return self._put_write(spec, write, parsed, env, old), old

            blind = write if parsed is None and returns == "NONE" else None
            old = self._apply(spec, pk, sk, decide, blind)
        else:
            with self._lock, self._transaction():
                found = self._get(spec, pk, sk)
                old = found[0] if found is not None else None
                self._write(spec, self._put_write(spec, write, parsed, env, old))
        return old if returns == "ALL_OLD" else None

    def _put_write(
        self, spec: Table, write: Write, condition: Parsed | None, env: Any, old: Item | None
    ) -> Write:
        """The write a put makes over ``old`` (``write`` has no old index entries)."""
        if condition is not None and not condition.root.test(old or {}, env):
            raise ConditionalCheckFailed(self._out(old))
        if old is None or not spec.indexes:
            return write
        old_index = self._index_entries(spec, old)
        if old_index == write.new_index:  # the entries stay as they are
            return Write(write.pk, write.sk, write.item, write.size, write.ttl, [], [])
        return Write(
            write.pk, write.sk, write.item, write.size, write.ttl, old_index, write.new_index
        )

    def get_item(
        self,
        table: str,
        key: Mapping[str, Any],
        *,
        projection: str | None = None,
        names: Names | None = None,
    ) -> Item | None:
        spec = self._spec(table)
        _, pk, sk = request_key(spec, key)
        parsed = parse_optional(PROJECTION, projection)
        env = bind(names, None, parsed)
        with self._lock:
            found = self._get(spec, pk, sk)
            if found is None:
                return None
            if parsed is not None:
                return self._out(project(found[0], projection_paths(parsed, env.names)))
            return self._out(found[0])

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
        spec = self._spec(table)
        if returns not in ("NONE", "ALL_OLD"):
            raise return_values_error(returns, "ALL_OLD or NONE")
        _, pk, sk = request_key(spec, key)
        parsed, env = self._condition_shapes.bind(condition, names, values)

        def decide(old: Item | None) -> tuple[Write | None, Item | None]:
            if parsed is not None and not parsed.root.test(old or {}, env):
                raise ConditionalCheckFailed(self._out(old))
            if old is None:
                return None, None
            return Write(pk, sk, None, 0, None, self._index_entries(spec, old), []), old

        blind = None
        if self.shared and parsed is None and returns == "NONE":
            blind = Write(pk, sk, None, 0, None, [], [])
        old = self._apply(spec, pk, sk, decide, blind)
        return old if returns == "ALL_OLD" else None

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
        spec = self._spec(table)
        if returns not in RETURN_VALUES:
            raise return_values_error(returns, " | ".join(RETURN_VALUES))
        key_item, pk, sk = request_key(spec, key)
        parsed_update = parse_optional(UPDATE, update)
        parsed_condition = parse_optional(CONDITION, condition)
        env = bind(names, values, parsed_update, parsed_condition)
        if self.shared:
            return self._apply(
                spec,
                pk,
                sk,
                lambda old: self._update_write(
                    spec, key_item, pk, sk, parsed_update, parsed_condition, env, returns, old
                ),
                None,
            )
        with self._lock, self._transaction():
            found = self._get(spec, pk, sk)
            write, answer = self._update_write(
                spec,
                key_item,
                pk,
                sk,
                parsed_update,
                parsed_condition,
                env,
                returns,
                found[0] if found is not None else None,
            )
            self._write(spec, write)
            return answer

    def _update_write(
        self,
        spec: Table,
        key_item: Item,
        pk: KeyValue,
        sk: KeyValue | None,
        update: Parsed | None,
        condition: Parsed | None,
        env: Any,
        returns: str,
        old: Item | None,
    ) -> tuple[Write, Item | None]:
        """The write an update makes over ``old``, and what it answers."""
        if condition is not None and not condition.root.test(old or {}, env):
            raise ConditionalCheckFailed(self._out(old))
        base = old if old is not None else key_item
        if update is None:
            changed, paths = copy_item(base), []
        else:
            changed, paths = update.root.apply(base, env, key_names(spec))
        try:
            new, size = normalize_item(changed)
        except TableValidationError as error:
            if error.message.startswith("Item size has exceeded"):
                error.message = error.message.replace("Item size has", "Item size to update has")
                error.args = (error.message,)
            raise
        new_index = self._index_entries(spec, new)
        old_index = self._index_entries(spec, old) if old is not None else []
        if old_index == new_index:
            old_index = new_index = []  # the entries stay as they are
        write = Write(pk, sk, new, size, _ttl(spec, new), old_index, new_index)
        return write, self._returned(returns, old, new, paths)

    def _returned(self, returns: str, old: Item | None, new: Item, paths: list[Any]) -> Item | None:
        if returns == "ALL_OLD":
            return old
        if returns == "ALL_NEW":
            return self._out(new)
        if returns == "UPDATED_OLD":
            return (project(old, paths) or None) if old is not None else None
        if returns == "UPDATED_NEW":
            return self._out(project(new, paths)) or None
        return None

    # -- transactions ---------------------------------------------------------------------------

    def transact_write(self, actions: Sequence[TransactWrite]) -> None:
        """TransactWriteItems: every action's condition is checked on the items as they are,
        and all are written, or none (:class:`TransactionCanceled` says which failed)."""
        if not 1 <= len(actions) <= MAX_ACTIONS:
            raise TableValidationError(
                f"Member must have length less than or equal to {MAX_ACTIONS} and greater than "
                f"or equal to 1: this transaction has {len(actions)} actions"
            )
        prepared = [self._prepare_action(action) for action in actions]
        keys = [(p.spec, p.pk, p.sk) for p in prepared]
        if len({(spec.name, pk, sk) for spec, pk, sk in keys}) != len(prepared):
            raise TableValidationError(
                "Transaction request cannot include multiple operations on one item"
            )
        self._transact(keys, lambda olds: self._decide_transaction(prepared, olds))

    def _transact(self, keys: list[ItemKey], decide: DecideAll) -> None:
        """Apply ``decide``'s writes over the items at ``keys`` (in order) all at once, or none.

        ``decide`` is pure (a shared store may call it again when an item changed under it) and
        raises :class:`TransactionCanceled` when a condition is false. This default reads and
        writes under the lock and in one transaction."""
        with self._lock, self._transaction():
            olds: list[Item | None] = []
            for spec, pk, sk in keys:
                found = self._get(spec, pk, sk)
                olds.append(found[0] if found is not None else None)
            for (spec, _, _), write in zip(keys, decide(olds), strict=True):
                if write is not None:
                    self._write(spec, write)

    def _decide_transaction(
        self, prepared: list[_Action], olds: list[Item | None]
    ) -> list[Write | None]:
        """Every action's write over the items ``olds`` (None: it writes nothing); raises
        :class:`TransactionCanceled` with one reason per action if a condition is false."""
        reasons: list[dict[str, str]] = []
        for action, old in zip(prepared, olds, strict=True):
            holds = action.condition is None or action.condition.root.test(old or {}, action.env)
            reasons.append(
                {"Code": "None"}
                if holds
                else {"Code": "ConditionalCheckFailed", "Message": ConditionalCheckFailed().message}
            )
        if any(reason["Code"] != "None" for reason in reasons):
            raise TransactionCanceled(reasons)
        # Every write is built before the first is made: one that fails (an item grown too
        # large) leaves nothing half-written, even on a backend without rollback.
        return [self._action_write(action, old) for action, old in zip(prepared, olds, strict=True)]

    def _prepare_action(self, action: TransactWrite) -> _Action:
        spec = self._spec(action.table)
        update = None
        if action.kind == "Put":
            base, _ = normalize_item(action.item)
            pk, sk = item_key(spec, base)
        else:
            base, pk, sk = request_key(spec, action.item)
        if action.kind == "Update":
            update = parse_optional(UPDATE, action.update)
            condition = parse_optional(CONDITION, action.condition)
            env = bind(action.names, action.values, update, condition)
        else:
            if action.kind == "ConditionCheck" and action.condition is None:
                raise TableValidationError("A ConditionCheck needs a ConditionExpression")
            condition, env = self._condition_shapes.bind(
                action.condition, action.names, action.values
            )
        return _Action(action.kind, spec, pk, sk, base, condition, update, env)

    def _action_write(self, action: _Action, old: Item | None) -> Write | None:
        """The write an action makes on ``old`` (None: it writes nothing)."""
        spec = action.spec
        if action.kind == "ConditionCheck" or (action.kind == "Delete" and old is None):
            return None
        old_index = self._index_entries(spec, old) if old is not None and spec.indexes else []
        if action.kind == "Delete":
            return Write(action.pk, action.sk, None, 0, None, old_index, [])
        if action.update is not None:
            base = old if old is not None else action.base
            changed, _ = action.update.root.apply(base, action.env, key_names(spec))
        else:
            changed = action.base
        new, size = normalize_item(changed)
        new_index = self._index_entries(spec, new) if spec.indexes else []
        return Write(action.pk, action.sk, new, size, _ttl(spec, new), old_index, new_index)

    # -- reads of many items --------------------------------------------------------------------

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
        spec = self._spec(table)
        key = query_key(table, index, key_condition, filter, projection, names)
        bound = self._query_shapes.bind(key, spec, names, values)
        if bound is None:
            bound = prepare_query(spec, index, key_condition, filter, projection, names, values)
            self._query_shapes.put(key, bound[0])
        shape, env, pk, sort_range = bound
        gsi = shape.index
        if limit is not None:
            check_limit(limit)
        after = None
        if start_key is not None:
            after = query_position(spec, gsi, start_key, pk, sort_range)
            if gsi is None and spec.sort_key is None:
                return Page()  # a partition of a table without a sort key holds one item
        paths = projection_paths(shape.projection, env.names) if shape.projection else None
        with self._lock:
            first = None
            if limit is None and shape.filter is None and paths is None:
                # Most queries read a partition of a few items, whole: one read answers them.
                first = self._range(spec, gsi, pk, sort_range, forward, after, _BATCH)
                if len(first) < _BATCH and sum(map(_size, first)) < PAGE_BYTES:
                    return Page(self._copies(first), len(first))

            def read(after_: Any, count: int) -> list[Record]:
                return self._range(spec, gsi, pk, sort_range, forward, after_, count)

            def position_of(item: Item) -> Any:
                return position(spec, gsi, item, within_partition=True)

            return self._page(
                spec, gsi, read, position_of, after, limit, shape.filter, paths, env, first
            )

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
        spec = self._spec(table)
        gsi = find_index(spec, index)
        parsed_filter = parse_optional(FILTER, filter)
        parsed_projection = parse_optional(PROJECTION, projection)
        env = bind(names, values, parsed_filter, parsed_projection)
        check_limit(limit)
        check_segments(segment, total_segments)
        after = None
        if start_key is not None:
            after = position(spec, gsi, start_item(spec, gsi, start_key), within_partition=False)

        def read(after_: Any, count: int) -> list[Record]:
            records = self._scan(spec, gsi, after_, count)
            if total_segments == 1:
                return records
            # Records of other segments are skipped here, so they count for no one.
            return [
                r
                if segment_of(r[0][spec.partition_key.name], total_segments) == segment
                else (r[0], -1)
                for r in records
            ]

        def position_of(item: Item) -> Any:
            return position(spec, gsi, item, within_partition=False)

        paths = projection_paths(parsed_projection, env.names) if parsed_projection else None
        with self._lock:
            return self._page(
                spec, gsi, read, position_of, after, limit, parsed_filter, paths, env, None
            )

    def _page(
        self,
        spec: Table,
        gsi: GlobalIndex | None,
        read: Any,
        position_of: Any,
        after: Any,
        limit: int | None,
        parsed_filter: Parsed | None,
        paths: list[Any] | None,
        env: Any,
        first: list[Record] | None,
    ) -> Page:
        """One page, read with the lock held (``first``: the first batch, already read)."""
        items: list[Item] = []
        scanned = 0
        read_bytes = 0
        last: Item | None = None
        while True:
            want = _BATCH if limit is None else min(_BATCH, limit - scanned)
            records = read(after, want) if first is None else first
            first = None
            for item, size in records:
                if size < 0:
                    continue  # another segment's
                scanned += 1
                read_bytes += size
                if parsed_filter is None or parsed_filter.root.test(item, env):
                    chosen = item if paths is None else project(item, paths)
                    items.append(copy_item(chosen) if self.shares_items else chosen)
                if scanned == limit or read_bytes >= PAGE_BYTES:
                    last = last_key(spec, gsi, item)
                    break
            if last is not None or len(records) < want:
                break
            # Only the next read needs a position: that of the batch's last record.
            after = position_of(records[-1][0])
        return Page(items, scanned, last)

    def _copies(self, records: list[Record]) -> list[Item]:
        """The records' items, for the caller to keep (copies, if the backend keeps them)."""
        if self.shares_items:
            return [copy_item(item) for item, _ in records]
        return [item for item, _ in records]

    # -- TTL ------------------------------------------------------------------------------------

    def delete_expired(self, now: float) -> int:
        deleted = 0
        exact_now = Decimal(repr(now))
        horizon = exact_now - TTL_HORIZON_SECONDS
        for spec in list(self._specs.values()):
            attribute = spec.ttl_attribute
            if attribute is None:
                continue
            with self._lock:
                candidates = self._expiring(spec, now)

            def decide(
                old: Item | None, spec: Table = spec, attribute: str = attribute
            ) -> tuple[Write | None, Item | None]:
                # Decided on the item as it is now: a writer may have moved its expiry since.
                expires = None if old is None else old.get(attribute)
                if old is None or type(expires) is not Decimal:
                    return None, None
                if not horizon <= expires <= exact_now:
                    return None, None
                pk, sk = item_key(spec, old)
                index = self._index_entries(spec, old)
                return Write(pk, sk, None, 0, None, index, []), old

            for item in candidates:
                pk, sk = item_key(spec, item)
                if self._apply(spec, pk, sk, decide, None) is not None:
                    deleted += 1
        return deleted

    # -- helpers --------------------------------------------------------------------------------

    def _out(self, item: Item | None) -> Item | None:
        if item is None or not self.shares_items:
            return item
        return copy_item(item)

    @staticmethod
    def _index_entries(spec: Table, item: Item) -> list[IndexEntry]:
        entries: list[IndexEntry] = []
        for gsi in spec.indexes:
            key = index_key(gsi, item)
            if key is not None:
                entries.append((gsi.name, key[0], key[1]))
        return entries

    @staticmethod
    def backfill_entries(spec: Table, item: Item) -> list[IndexEntry]:
        """Index entries for an item already stored; items whose index key has the wrong type
        are left out of that index, as DynamoDB's backfill leaves them out."""
        entries: list[IndexEntry] = []
        for gsi in spec.indexes:
            try:
                key = index_key(gsi, item)
            except TableValidationError:
                continue
            if key is not None:
                entries.append((gsi.name, key[0], key[1]))
        return entries


def _ttl(spec: Table, item: Item) -> Decimal | None:
    if spec.ttl_attribute is None:
        return None
    value = item.get(spec.ttl_attribute)
    return value if type(value) is Decimal else None


def ttl_of(spec: Table, item: Item) -> Decimal | None:
    """The item's TTL value, if its TTL attribute holds a number."""
    return _ttl(spec, item)
