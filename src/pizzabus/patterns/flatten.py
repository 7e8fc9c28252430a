"""Event → leaves, reading only the paths some rule uses.

A `PathPlan` is built once from the dotted paths a pattern (or a whole rule set) reads. It
knows, for every prefix of those paths, which keys may continue it; a key may itself hold dots,
so ``{"a.b": 1}`` and ``{"a": {"b": 1}}`` both reach path ``a.b``. Walking an event therefore
costs in proportion to the paths used, not to the size of the event.

Leaves under an array whose elements are objects or arrays carry a membership: the
``(array id, element index)`` pairs of those enclosing arrays. Two leaves can satisfy one
sub-rule together only if they agree on every array they share (array consistency).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pizzabus.patterns.jsontext import JsonObject
from pizzabus.patterns.values import BigNumber, Leaf, leaf_of

Membership = tuple[tuple[int, int], ...]

_SCALARS: Final = frozenset({str, float, int, bool, type(None), BigNumber})

#: key → (child path, whether a rule reads the child, the child's own step map or None)
StepMap = dict[str, tuple[str, bool, "StepMap | None"]]


@dataclass(slots=True)
class Leaves:
    """The leaves of one event at the paths a plan reads."""

    values: dict[str, list[Leaf]] = field(default_factory=dict)
    #: Only for paths with a leaf under an array of objects; parallel to ``values[path]``.
    members: dict[str, list[Membership]] = field(default_factory=dict)


def _build(paths: Iterable[str]) -> StepMap:
    root: StepMap = {}
    maps: dict[str, StepMap] = {}
    ends: set[str] = set(paths)
    for path in ends:
        cuts = [i for i, char in enumerate(path) if char == "."] + [len(path)]
        starts: list[tuple[StepMap, int]] = [(root, 0)]
        starts += [(maps.setdefault(path[:cut], {}), cut + 1) for cut in cuts[:-1]]
        for step_map, begin in starts:
            for cut in cuts:
                if cut >= begin:
                    child = path[:cut]
                    step_map[path[begin:cut]] = (child, child in ends, None)
    for step_map in [root, *maps.values()]:
        for key, (child, readable, _) in list(step_map.items()):
            step_map[key] = (child, readable, maps.get(child))
    return root


class PathPlan:
    """Which parts of an event to read, for a fixed set of dotted paths."""

    __slots__ = ("paths", "root")

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = frozenset(paths)
        self.root = _build(self.paths)

    # One set of closures per call keeps the hot loop free of attribute look-ups.
    def flatten(self, event: Any) -> Leaves:  # noqa: PLR0915
        """The leaves of ``event`` (a dict, or a tree from `loads_event`) at the plan's paths."""
        leaves = Leaves()
        values, members = leaves.values, leaves.members
        counter = [0]

        def add(path: str, value: Any, membership: Membership) -> None:
            leaf = leaf_of(value)
            if leaf is None:
                return
            found = values.get(path)
            if found is None:
                found = values[path] = []
            if membership:
                column = members.get(path)
                if column is None:
                    column = members[path] = [()] * len(found)
                column.append(membership)
            elif path in members:
                members[path].append(())
            found.append(leaf)

        def visit(
            node: Any, path: str, readable: bool, steps: StepMap | None, m: Membership
        ) -> None:
            kind = type(node)
            if kind is dict or kind is JsonObject:
                if steps is not None:
                    walk(node, steps, m)
            elif kind is list:
                counter[0] += 1
                array = counter[0]
                for index, item in enumerate(node):
                    kind = type(item)
                    if kind is str and readable and not m and not members:
                        found = values.get(path)
                        if found is None:
                            values[path] = [item]
                        else:
                            found.append(item)
                    elif kind is dict or kind is JsonObject or kind is list:
                        visit(item, path, readable, steps, (*m, (array, index)))
                    elif readable:
                        add(path, item, m)
            elif kind in _SCALARS:
                if readable:
                    add(path, node, m)
            elif isinstance(node, Mapping):
                visit(dict(node), path, readable, steps, m)
            elif isinstance(node, tuple):
                visit(list(node), path, readable, steps, m)
            elif readable:
                add(path, node, m)

        def walk(node: Any, steps: StepMap, m: Membership) -> None:
            if type(node) is dict and len(steps) < len(node):
                get = node.get
                for key, (child, readable, child_steps) in steps.items():
                    value = get(key, walk)
                    if value is walk:
                        continue
                    kind = type(value)
                    if (
                        (kind is str or (kind is float and value - value == 0.0))
                        and readable
                        and not m
                        and not members
                    ):
                        found = values.get(child)
                        if found is None:
                            values[child] = [value]
                        else:
                            found.append(value)
                    else:
                        visit(value, child, readable, child_steps, m)
                return
            items = node if type(node) is JsonObject else node.items()
            for key, value in items:
                step = steps.get(key)
                if step is not None:
                    visit(value, step[0], step[1], step[2], m)

        if type(event) is dict or type(event) is JsonObject:
            walk(event, self.root, ())
        elif isinstance(event, Mapping):
            walk(dict(event), self.root, ())
        return leaves
