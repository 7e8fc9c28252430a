"""Whether one sub-rule matches the leaves of an event.

Every path must be satisfied (AND). When leaves sit under arrays of objects, the leaves chosen
for different paths must come from the same element of every array they share, so the choice
is a small backtracking search over the sub-rule's paths in sorted order. ``exists: false`` is
judged last, against the elements the other paths settled on (see the package docstring).
"""

from __future__ import annotations

from pizzabus.patterns.flatten import Leaves, Membership
from pizzabus.patterns.matchers import Condition

Conditions = tuple[tuple[str, Condition], ...]


def subrule_matches(conditions: Conditions, leaves: Leaves) -> bool:
    """Whether ``leaves`` satisfy every condition of one sub-rule, array-consistently."""
    values, members = leaves.values, leaves.members
    if members and sum(1 for path, _ in conditions if path in members) > 1:
        return _search(conditions, 0, {}, leaves, [])
    for path, condition in conditions:
        found = values.get(path)
        if found:
            if not condition.any_leaf(found):
                return False
        elif not condition.absent_ok:
            return False
    return True


def _compatible(pins: dict[int, int], membership: Membership) -> bool:
    return all(pins.get(array, index) == index for array, index in membership)


def _search(
    conditions: Conditions, at: int, pins: dict[int, int], leaves: Leaves, absent: list[str]
) -> bool:
    if at == len(conditions):
        return all(_absent(path, pins, leaves) for path in absent)
    path, condition = conditions[at]
    found = leaves.values.get(path, [])
    column = leaves.members.get(path)
    for position, leaf in enumerate(found):
        membership = column[position] if column else ()
        if _compatible(pins, membership) and condition.test(leaf):
            narrowed = {**pins, **dict(membership)} if membership else pins
            if _search(conditions, at + 1, narrowed, leaves, absent):
                return True
    return condition.absent_ok and _search(conditions, at + 1, pins, leaves, [*absent, path])


def _absent(path: str, pins: dict[int, int], leaves: Leaves) -> bool:
    found = leaves.values.get(path)
    if not found:
        return True
    column = leaves.members.get(path)
    if column is None:
        return False
    return not any(_compatible(pins, membership) for membership in column)
