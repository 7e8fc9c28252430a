"""`RuleSet`: many named patterns, one pass per event, cost not growing with the rule count.

Like event-ruler's automaton, the rule set is a trie. Each sub-rule contributes a path from the
root, one step per *indexable* condition (exact values, prefix, suffix, ASCII
equals-ignore-case, numeric ranges, ``exists: true``), most selective first: exact conditions
before the rest, and among them the paths with the most distinct values across all rules (in
practice ``source`` and ``detail-type``). Sub-rules that share their first conditions share
trie nodes. A node indexes its outgoing conditions per path (a dict of exact values, dicts of
prefixes and suffixes by length, a list of ranges), so following an event through the trie
costs a few dict look-ups per level, whatever the number of rules.

Where a sub-rule's steps end, its remaining conditions (anything-but, wildcard, cidr,
``exists: false``, non-ASCII case folding) are checked directly, and so is array consistency
when the event has arrays of objects. The event is flattened once, on the union of the paths
the rules read.

Rules are compiled on `add`; the index is rebuilt on the first match after a change and then
shared, immutable, by every reader, so concurrent `matching` calls need no lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from pizzabus.patterns.cidr import IpKey, parse_ip
from pizzabus.patterns.compiled import (
    CompiledPattern,
    EventSource,
    PatternSource,
    compile_pattern,
    parse_event,
)
from pizzabus.patterns.flatten import Leaves, PathPlan
from pizzabus.patterns.match import Conditions, subrule_matches
from pizzabus.patterns.matchers import (
    Condition,
    EqualsIgnoreCase,
    Exact,
    Exists,
    Matcher,
    Numeric,
    Prefix,
    Suffix,
)
from pizzabus.patterns.values import Leaf

_INDEXABLE: Final = (Exact, Prefix, Suffix, EqualsIgnoreCase, Numeric, Exists)


def _indexable(condition: Condition) -> bool:
    for matcher in condition.matchers:
        if not isinstance(matcher, _INDEXABLE):
            return False
        if isinstance(matcher, Exists) and not matcher.present:
            return False
        if isinstance(matcher, EqualsIgnoreCase) and not matcher.text.isascii():
            return False
    return True


@dataclass(slots=True)
class _Entry:
    """A sub-rule whose indexed conditions all held on the way to its node."""

    rule: int
    conditions: Conditions
    residual: Conditions

    def holds(self, leaves: Leaves) -> bool:
        if leaves.members:
            return subrule_matches(self.conditions, leaves)
        values = leaves.values
        for path, condition in self.residual:
            found = values.get(path)
            if found:
                if not condition.any_leaf(found):
                    return False
            elif not condition.absent_ok:
                return False
        return True


@dataclass(slots=True)
class _PathIndex:
    """The conditions leaving one trie node on one path, indexed by what they accept."""

    exact: dict[Leaf, list[_Node]] = field(default_factory=dict)
    ips: dict[IpKey, list[_Node]] = field(default_factory=dict)
    prefixes: dict[int, dict[str, list[_Node]]] = field(default_factory=dict)
    suffixes: dict[int, dict[str, list[_Node]]] = field(default_factory=dict)
    folded: dict[str, dict[int, dict[str, list[_Node]]]] = field(default_factory=dict)
    ranges: list[tuple[Numeric, _Node]] = field(default_factory=list)
    always: list[_Node] = field(default_factory=list)
    #: Set by `seal`: only exact values leave this way (the common, fastest case).
    exact_only: bool = False
    #: Set by `seal`: some condition here looks at strings beyond plain equality.
    textual: bool = True

    def seal(self) -> None:
        """Record which look-ups this index needs, once all conditions are in."""
        self.textual = bool(self.ips or self.prefixes or self.suffixes or self.folded)
        self.exact_only = not (self.textual or self.ranges or self.always)

    def add(self, matcher: Matcher, node: _Node) -> None:
        if isinstance(matcher, Exact):
            self.exact.setdefault(matcher.leaf, []).append(node)
            if matcher.ip is not None:
                self.ips.setdefault(matcher.ip, []).append(node)
        elif isinstance(matcher, Prefix | Suffix):
            table = self.prefixes if isinstance(matcher, Prefix) else self.suffixes
            table.setdefault(len(matcher.text), {}).setdefault(matcher.text, []).append(node)
        elif isinstance(matcher, EqualsIgnoreCase):
            by_length = self.folded.setdefault(matcher.mode, {})
            text = matcher.text.lower()
            by_length.setdefault(len(text), {}).setdefault(text, []).append(node)
        elif isinstance(matcher, Numeric):
            self.ranges.append((matcher, node))
        else:
            self.always.append(node)

    def collect(self, found: list[Leaf], into: list[_Node]) -> None:
        """Append to ``into`` every child node some leaf of ``found`` leads to, each once."""
        if self.exact_only and len(found) == 1:
            hit = self.exact.get(found[0])
            if hit:
                into.extend(hit)  # one node per distinct condition: no repeats
            return
        out: set[_Node] = set()
        for leaf in found:
            hit = self.exact.get(leaf)
            if hit:
                out.update(hit)
            if type(leaf) is str:
                if self.textual:
                    self._strings(leaf, out)
            elif type(leaf) is float:
                for numeric, node in self.ranges:
                    if numeric.contains(leaf):
                        out.add(node)
        if self.always:
            out.update(self.always)
        into.extend(out)

    def _strings(self, text: str, out: set[_Node]) -> None:
        if self.ips:
            address = parse_ip(text)
            if address is not None and address in self.ips:
                out.update(self.ips[address])
        for length, table in self.prefixes.items():
            hit = table.get(text[:length])
            if hit:
                out.update(hit)
        for length, table in self.suffixes.items():
            hit = table.get(text[len(text) - length :]) if length <= len(text) else None
            if hit:
                out.update(hit)
        if self.folded:
            self._folded(text, out)

    def _folded(self, text: str, out: set[_Node]) -> None:
        for mode, by_length in self.folded.items():
            for length, table in by_length.items():
                if mode == "exact":
                    part = text if len(text) == length else None
                elif mode == "prefix":
                    part = text[:length]
                else:
                    part = text[len(text) - length :] if length <= len(text) else None
                if part is not None and part.isascii():
                    hit = table.get(part.lower())
                    if hit:
                        out.update(hit)


class _Node:
    __slots__ = ("children", "edge_list", "edges", "terminals")

    def __init__(self) -> None:
        self.terminals: list[_Entry] = []
        self.edges: dict[str, _PathIndex] = {}
        self.edge_list: tuple[tuple[str, _PathIndex], ...] = ()
        self.children: dict[tuple[str, frozenset[Matcher]], _Node] = {}

    def seal(self) -> None:
        """Freeze the edges for matching (iterating a tuple beats a dict)."""
        self.edge_list = tuple(self.edges.items())
        for index in self.edges.values():
            index.seal()
        for child in self.children.values():
            child.seal()

    def child(self, path: str, condition: Condition) -> _Node:
        key = (path, frozenset(condition.matchers))
        node = self.children.get(key)
        if node is None:
            node = self.children[key] = _Node()
            index = self.edges.setdefault(path, _PathIndex())
            for matcher in dict.fromkeys(condition.matchers):
                index.add(matcher, node)
        return node


class _Index:
    """An immutable snapshot of a rule set, ready to match."""

    def __init__(self, rules: list[tuple[str, CompiledPattern]]) -> None:
        self.names = [name for name, _ in rules]
        self.root = _Node()
        self.plan = PathPlan(path for _, rule in rules for path in rule.plan.paths)
        spread = self._distinct_values(rules)
        for position, (_, rule) in enumerate(rules):
            for subrule in rule.subrules:
                self._insert(position, subrule, spread)
        self.root.seal()

    @staticmethod
    def _distinct_values(rules: list[tuple[str, CompiledPattern]]) -> dict[str, int]:
        values: dict[str, set[Leaf]] = {}
        for _, rule in rules:
            for subrule in rule.subrules:
                for path, condition in subrule:
                    values.setdefault(path, set()).update(condition.exact)
        return {path: len(found) for path, found in values.items()}

    def _insert(self, position: int, subrule: Conditions, spread: dict[str, int]) -> None:
        steps = [(path, c) for path, c in subrule if _indexable(c)]
        residual = tuple((path, c) for path, c in subrule if not _indexable(c))

        def rank(step: tuple[str, Condition]) -> tuple[int, int, str]:
            path, condition = step
            kinds = {type(matcher) for matcher in condition.matchers}
            level = (
                0
                if kinds == {Exact}
                else 1
                if kinds <= {Exact, Prefix, Suffix, EqualsIgnoreCase}
                else 2
            )
            return level, -spread.get(path, 0), path

        node = self.root
        for path, condition in sorted(steps, key=rank):
            node = node.child(path, condition)
        node.terminals.append(_Entry(position, subrule, residual))

    def matching(self, event: EventSource) -> list[str]:
        leaves = self.plan.flatten(parse_event(event))
        values = leaves.values
        matched: set[int] = set()
        stack = [self.root]
        while stack:
            node = stack.pop()
            for entry in node.terminals:
                if entry.rule not in matched and entry.holds(leaves):
                    matched.add(entry.rule)
            for path, index in node.edge_list:
                found = values.get(path)
                if found:
                    index.collect(found, stack)
        names = self.names
        return [names[position] for position in sorted(matched)]


class RuleSet:
    """Named event patterns sharing one index; ask which of them match an event.

    `add` and `remove` are meant to be rare; `matching` is safe to call from many threads at
    once, and while another thread adds or removes rules.
    """

    def __init__(self) -> None:
        self._rules: dict[str, CompiledPattern] = {}
        self._lock = threading.Lock()
        self._index: _Index | None = None

    def add(self, name: str, pattern: CompiledPattern | PatternSource) -> None:
        """Add (or replace, keeping its place) the rule ``name``; raises `InvalidEventPattern`."""
        compiled = pattern if isinstance(pattern, CompiledPattern) else compile_pattern(pattern)
        with self._lock:
            self._rules[name] = compiled
            self._index = None

    def remove(self, name: str) -> None:
        """Remove the rule ``name``; raises ``KeyError`` naming it if there is none."""
        with self._lock:
            if name not in self._rules:
                raise KeyError(name)
            del self._rules[name]
            self._index = None

    def matching(self, event: EventSource) -> list[str]:
        """Names of the rules that ``event`` matches, in the order they were added."""
        index = self._index
        if index is None:
            index = self._rebuild()
        return index.matching(event)

    def _rebuild(self) -> _Index:
        with self._lock:
            if self._index is None:
                self._index = _Index(list(self._rules.items()))
            return self._index

    def __len__(self) -> int:
        return len(self._rules)

    def __contains__(self, name: object) -> bool:
        return name in self._rules

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._rules))

    def __getitem__(self, name: str) -> CompiledPattern:
        return self._rules[name]
