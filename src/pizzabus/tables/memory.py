"""Tables in memory: the fast store, for ``--memory`` and for tests.

Each table is a dict of partitions; a partition keeps its items in a dict by sort key and the
sort keys in a sorted list, so a query is a bisect and a slice. Each global index keeps, per
index partition, a sorted list of ``(index sort key, pk, sk)``. Nothing survives the process.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from pizzabus.system import GlobalIndex, Table
from pizzabus.tables.engine import Engine, Record, Write
from pizzabus.tables.keys import KeyValue, SortRange
from pizzabus.tables.values import Item

_first = itemgetter(0)
_NO_TRANSACTION: AbstractContextManager[None] = nullcontext()


@dataclass(slots=True)
class _Partition:
    sort_keys: list[Any] = field(default_factory=list)
    records: dict[Any, Record] = field(default_factory=dict)


@dataclass(slots=True)
class _MemoryTable:
    partitions: dict[KeyValue, _Partition] = field(default_factory=dict)
    #: index name → index pk → sorted [(index sk, pk, sk)]
    indexes: dict[str, dict[KeyValue, list[tuple[Any, Any, Any]]]] = field(default_factory=dict)


class MemoryTableStore(Engine):
    """A :class:`~pizzabus.tables.store.TableStore` held in this process's memory."""

    shares_items = True

    def __init__(self) -> None:
        super().__init__()
        self._tables: dict[str, _MemoryTable] = {}

    def _where(self) -> str:
        return "in memory"

    def _transaction(self) -> AbstractContextManager[None]:
        return _NO_TRANSACTION

    def _save_spec(self, spec: Table, previous: Table | None) -> None:
        table = self._tables.setdefault(spec.name, _MemoryTable())
        table.indexes = {gsi.name: {} for gsi in spec.indexes}
        for record in _records(table):
            for name, ipk, isk in self.backfill_entries(spec, record[0]):
                pk, sk = _primary(spec, record[0])
                insort(table.indexes[name].setdefault(ipk, []), (isk, pk, sk))

    def _get(self, spec: Table, pk: KeyValue, sk: KeyValue | None) -> Record | None:
        partition = self._tables[spec.name].partitions.get(pk)
        return None if partition is None else partition.records.get(sk)

    def _write(self, spec: Table, write: Write) -> None:
        table = self._tables[spec.name]
        pk, sk = write.pk, write.sk
        for name, ipk, isk in write.old_index:
            entries = table.indexes[name][ipk]
            del entries[bisect_left(entries, (isk, pk, sk))]
            if not entries:
                del table.indexes[name][ipk]
        partition = table.partitions.get(pk)
        if write.item is None:
            if partition is not None and sk in partition.records:
                del partition.records[sk]
                if spec.sort_key is None or not partition.records:
                    del table.partitions[pk]
                else:
                    del partition.sort_keys[bisect_left(partition.sort_keys, sk)]
        else:
            if partition is None:
                partition = table.partitions[pk] = _Partition()
            if sk not in partition.records:
                insort(partition.sort_keys, sk)
            partition.records[sk] = (write.item, write.size)
        for name, ipk, isk in write.new_index:
            insort(table.indexes[name].setdefault(ipk, []), (isk, pk, sk))

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
        table = self._tables[spec.name]
        if index is None:
            partition = table.partitions.get(pk)
            if partition is None:
                return []
            keys = partition.sort_keys
            if sort is None and after is None and forward:
                taken = keys[:limit]  # the common read: a whole partition from its start
            else:
                taken = _take(keys, _window(keys, sort, forward, after, key=None), forward, limit)
            return list(map(partition.records.__getitem__, taken))
        entries = table.indexes[index.name].get(pk, [])
        chosen = _window(entries, sort, forward, after, key=_first)
        partitions = table.partitions
        return [partitions[e[1]].records[e[2]] for e in _take(entries, chosen, forward, limit)]

    def _scan(self, spec: Table, index: GlobalIndex | None, after: Any, limit: int) -> list[Record]:
        table = self._tables[spec.name]
        out: list[Record] = []
        if index is None:
            for pk in sorted(table.partitions):
                if after is not None and pk < after[0]:
                    continue
                partition = table.partitions[pk]
                start = 0
                if after is not None and pk == after[0]:
                    start = (
                        len(partition.sort_keys)
                        if spec.sort_key is None
                        else bisect_right(partition.sort_keys, after[1])
                    )
                for sk in partition.sort_keys[start:]:
                    out.append(partition.records[sk])
                    if len(out) == limit:
                        return out
            return out
        partitions = table.indexes[index.name]
        for ipk in sorted(partitions):
            if after is not None and ipk < after[0]:
                continue
            entries = partitions[ipk]
            start = 0 if after is None or ipk != after[0] else bisect_right(entries, after[1:])
            for entry in entries[start:]:
                out.append(self._lookup(table, entry))
                if len(out) == limit:
                    return out
        return out

    def _expiring(self, spec: Table, now: float) -> list[Item]:
        attribute = spec.ttl_attribute
        return [
            item
            for item, _ in _records(self._tables[spec.name])
            if attribute in item and _number_at_most(item[attribute], now)
        ]

    def _close(self) -> None:
        self._tables.clear()
        self._specs.clear()

    @staticmethod
    def _lookup(table: _MemoryTable, entry: tuple[Any, Any, Any]) -> Record:
        return table.partitions[entry[1]].records[entry[2]]


def _records(table: _MemoryTable) -> Iterator[Record]:
    for partition in table.partitions.values():
        yield from partition.records.values()


def _primary(spec: Table, item: Item) -> tuple[Any, Any]:
    sk = item[spec.sort_key.name] if spec.sort_key else None
    return item[spec.partition_key.name], sk


def _number_at_most(value: Any, now: float) -> bool:
    try:
        return bool(value <= now)
    except TypeError:
        return False


def _window(
    keys: list[Any], sort: SortRange | None, forward: bool, after: Any, key: Any
) -> tuple[int, int]:
    """The slice ``[lo, hi)`` of ``keys`` inside ``sort`` and beyond ``after``."""
    lo, hi = 0, len(keys)
    if sort is not None:
        if sort.prefix is not None:
            lo = bisect_left(keys, sort.prefix, key=key)
            hi = lo
            while hi < len(keys) and (keys[hi] if key is None else key(keys[hi])).startswith(
                sort.prefix
            ):
                hi += 1
        if sort.low is not None:
            bound = bisect_left if sort.low_inclusive else bisect_right
            lo = max(lo, bound(keys, sort.low, key=key))
        if sort.high is not None:
            bound = bisect_right if sort.high_inclusive else bisect_left
            hi = min(hi, bound(keys, sort.high, key=key))
    if after is not None:
        if forward:
            lo = max(lo, bisect_right(keys, after))
        else:
            hi = min(hi, bisect_left(keys, after))
    return lo, hi


def _take(keys: list[Any], window: tuple[int, int], forward: bool, limit: int) -> list[Any]:
    lo, hi = window
    if forward:
        return keys[lo : min(hi, lo + limit)]
    start = max(lo, hi - limit)
    return keys[start:hi][::-1]
