"""Document paths (``a.b[0].#c``): reading, writing and projecting nested attributes.

A path is parsed once per expression text; placeholders (``#c``) stay in it and are looked up
in ``ExpressionAttributeNames`` when the path is used, so one parsed expression serves every
request that shares its text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pizzabus.tables.errors import TableValidationError
from pizzabus.tables.values import Item


class _Missing:
    """The value of a path that leads nowhere."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final = _Missing()

Element = str | int
Resolved = tuple[Element, ...]


@dataclass(frozen=True, slots=True)
class Path:
    """A document path as written: names, ``#placeholders`` and list indexes."""

    elements: tuple[Element, ...]
    placeholders: bool

    def resolve(self, names: Mapping[str, str]) -> Resolved:
        """The path with placeholders replaced by the names they stand for."""
        if not self.placeholders:
            return self.elements
        return tuple(names[e] if type(e) is str and e[0] == "#" else e for e in self.elements)

    def get(self, item: Item, names: Mapping[str, str]) -> Any:
        """The value at this path in ``item``, or :data:`MISSING`."""
        current: Any = item
        for element in self.elements:
            if isinstance(element, int):
                if type(current) is not list or element >= len(current):
                    return MISSING
                current = current[element]
            else:
                if type(current) is not dict:
                    return MISSING
                name = names[element] if element[0] == "#" else element
                current = current.get(name, MISSING)
                if current is MISSING:
                    return MISSING
        return current

    def top(self, names: Mapping[str, str]) -> str:
        """The top-level attribute this path starts at."""
        first = self.elements[0]
        assert isinstance(first, str)  # the parser starts every path with a name
        return names[first] if first[0] == "#" else first


def show(path: Resolved) -> str:
    """A path as DynamoDB prints it in messages: ``[a, b, [0]]``."""
    return "[" + ", ".join(f"[{e}]" if type(e) is int else str(e) for e in path) + "]"


def check_no_overlap(kind: str, paths: Iterable[Resolved]) -> None:
    """DynamoDB refuses two paths of which one contains the other."""
    seen: list[Resolved] = []
    for path in paths:
        for other in seen:
            shorter = min(len(path), len(other))
            if path[:shorter] == other[:shorter]:
                raise TableValidationError(
                    f"Invalid {kind}: Two document paths overlap with each other; must remove or "
                    f"rewrite one of these paths; path one: {show(other)}, path two: {show(path)}"
                )
        seen.append(path)


def get_resolved(item: Item, path: Resolved) -> Any:
    """The value at an already resolved path, or :data:`MISSING`."""
    current: Any = item
    for element in path:
        if type(element) is int:
            if type(current) is not list or element >= len(current):
                return MISSING
            current = current[element]
        else:
            if type(current) is not dict or element not in current:
                return MISSING
            current = current[element]
    return current


def project(item: Item, paths: Iterable[Resolved]) -> Item:
    """The parts of ``item`` the paths select, nested as they are in the item.

    Selected list elements keep their order and close up, as DynamoDB returns them.
    """
    out: Item = {}
    for path in paths:
        value = get_resolved(item, path)
        if value is MISSING:
            continue
        _place(out, item, path, value)
    closed: Item = _close_lists(out)
    return closed


def _place(out: dict[Any, Any], source: Any, path: Resolved, value: Any) -> None:
    # Lists are built as {index: value} maps first, so that two selected indexes of one
    # list keep their order whatever order the projection names them in.
    for element in path[:-1]:
        source = source[element]
        container = out.get(element)
        if container is None:
            container = _IndexMap() if type(source) is list else {}
            out[element] = container
        out = container
    out[path[-1]] = value


class _IndexMap(dict[int, Any]):
    """A list under construction: selected indexes and their values."""


def _close_lists(value: Any) -> Any:
    if isinstance(value, _IndexMap):
        return [_close_lists(value[i]) for i in sorted(value)]
    if type(value) is dict:
        return {k: _close_lists(v) for k, v in value.items()}
    return value


def invalid_path() -> TableValidationError:
    return TableValidationError(
        "The document path provided in the update expression is invalid for update"
    )


def set_value(item: Item, path: Resolved, value: Any) -> None:
    """Write ``value`` at ``path``, as SET does (an index past the end appends)."""
    parent = _parent(item, path)
    last = path[-1]
    if type(last) is int:
        if type(parent) is not list:
            raise invalid_path()
        if last >= len(parent):
            parent.append(value)
        else:
            parent[last] = value
    else:
        if type(parent) is not dict:
            raise invalid_path()
        parent[last] = value


def remove_value(item: Item, path: Resolved) -> None:
    """Delete what is at ``path``, as REMOVE does (nothing there is not an error)."""
    parent = _parent(item, path)
    last = path[-1]
    if type(last) is int:
        if type(parent) is list and last < len(parent):
            del parent[last]
    elif type(parent) is dict:
        parent.pop(last, None)


def _parent(item: Item, path: Resolved) -> Any:
    current: Any = item
    for element in path[:-1]:
        if type(element) is int:
            if type(current) is not list or element >= len(current):
                raise invalid_path()
        elif type(current) is not dict or element not in current:
            raise invalid_path()
        current = current[element]
    return current
