"""The value-level operators, and `Condition`: the OR of one path's matchers.

Each matcher is a small frozen record (hashable, so rule sets can share equal ones) that
`value_test` turns into a predicate on leaves (`pizzabus.patterns.values`). Only strings match
the string operators, only numbers a numeric range; anything-but lets every leaf through that it
does not exclude, ``null`` included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pizzabus.patterns.cidr import IpKey, parse_ip
from pizzabus.patterns.textmatch import Glob, equals_ignore_case, wildcard_test
from pizzabus.patterns.values import Leaf

LeafTest = Callable[[Leaf], bool]


@dataclass(frozen=True, slots=True)
class Exact:
    """Equal to one leaf; an IP-shaped string also equals any spelling of its address."""

    leaf: Leaf
    ip: IpKey | None = None


@dataclass(frozen=True, slots=True)
class Prefix:
    """A string starting with ``text``."""

    text: str


@dataclass(frozen=True, slots=True)
class Suffix:
    """A string ending with ``text``."""

    text: str


@dataclass(frozen=True, slots=True)
class EqualsIgnoreCase:
    """A string equal to (or, by ``mode``, starting or ending with) ``text``, ignoring case."""

    text: str
    mode: str = "exact"


@dataclass(frozen=True, slots=True)
class Numeric:
    """A number within a range; ``None`` bounds are open-ended."""

    low: float | None
    low_open: bool
    high: float | None
    high_open: bool

    def contains(self, number: float) -> bool:
        """Whether ``number`` lies in the range."""
        low, high = self.low, self.high
        if low is not None and (number <= low if self.low_open else number < low):
            return False
        return high is None or (number < high if self.high_open else number <= high)


@dataclass(frozen=True, slots=True)
class Exists:
    """``exists: true`` (some leaf) or ``exists: false`` (no leaf)."""

    present: bool


@dataclass(frozen=True, slots=True)
class Cidr:
    """A string that is an IP address inside an inclusive range of one family."""

    bits: int
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class Wildcard:
    """A string matching a glob where ``*`` spans any text."""

    text: str
    glob: Glob = field(compare=False)


@dataclass(frozen=True, slots=True)
class AnythingBut:
    """Any leaf but the excluded strings or numbers."""

    excluded: frozenset[Leaf]


@dataclass(frozen=True, slots=True)
class AnythingButText:
    """Any leaf but strings that one of ``texts`` matches as ``kind`` (prefix, suffix, ...)."""

    kind: str
    texts: tuple[str, ...]
    globs: tuple[Glob, ...] = field(default=(), compare=False)


Matcher = (
    Exact
    | Prefix
    | Suffix
    | EqualsIgnoreCase
    | Numeric
    | Exists
    | Cidr
    | Wildcard
    | AnythingBut
    | AnythingButText
)


def _string_test(check: Callable[[str], object]) -> LeafTest:
    return lambda leaf: type(leaf) is str and bool(check(leaf))


def _starts_with(text: str) -> Callable[[str], bool]:
    return lambda value: value.startswith(text)


def _ends_with(text: str) -> Callable[[str], bool]:
    return lambda value: value.endswith(text)


def _text_tests(matcher: AnythingButText) -> list[Callable[[str], object]]:
    if matcher.kind == "prefix":
        return [_starts_with(text) for text in matcher.texts]
    if matcher.kind == "suffix":
        return [_ends_with(text) for text in matcher.texts]
    if matcher.kind == "equals-ignore-case":
        return [equals_ignore_case(text, "exact") for text in matcher.texts]
    return [wildcard_test(glob) for glob in matcher.globs]


def value_test(matcher: Matcher) -> LeafTest:
    """The predicate a leaf must pass for ``matcher`` (``exists: false`` passes none)."""
    if isinstance(matcher, Exact):
        wanted, ip = matcher.leaf, matcher.ip
        if ip is None:
            return lambda leaf: leaf == wanted and type(leaf) is type(wanted)
        return lambda leaf: leaf == wanted or (type(leaf) is str and parse_ip(leaf) == ip)
    if isinstance(matcher, Prefix):
        return _string_test(_starts_with(matcher.text))
    if isinstance(matcher, Suffix):
        return _string_test(_ends_with(matcher.text))
    if isinstance(matcher, EqualsIgnoreCase):
        return _string_test(equals_ignore_case(matcher.text, matcher.mode))
    if isinstance(matcher, Numeric):
        contains = matcher.contains
        return lambda leaf: type(leaf) is float and contains(leaf)
    if isinstance(matcher, Exists):
        present = matcher.present
        return lambda leaf: present
    if isinstance(matcher, Cidr):
        bits, low, high = matcher.bits, matcher.low, matcher.high

        def in_block(value: str) -> bool:
            address = parse_ip(value)
            return address is not None and address[0] == bits and low <= address[1] <= high

        return _string_test(in_block)
    if isinstance(matcher, Wildcard):
        return _string_test(wildcard_test(matcher.glob))
    if isinstance(matcher, AnythingBut):
        excluded = matcher.excluded
        return lambda leaf: leaf not in excluded
    tests = _text_tests(matcher)
    return lambda leaf: type(leaf) is not str or not any(test(leaf) for test in tests)


class Condition:
    """What one path of a sub-rule requires: any matcher of its list (they are OR-ed).

    ``absent_ok`` is set by ``exists: false``: the path may then also have no leaf at all.
    """

    __slots__ = ("absent_ok", "exact", "matchers", "tests")

    def __init__(self, matchers: Iterable[Matcher]) -> None:
        self.matchers = tuple(matchers)
        self.absent_ok = Exists(present=False) in self.matchers
        exact_leaves = [m.leaf for m in self.matchers if isinstance(m, Exact) and m.ip is None]
        #: Plain exact values, tested by set membership (leaves are type-tagged, see values).
        self.exact = frozenset(exact_leaves)
        self.tests = tuple(
            value_test(m)
            for m in dict.fromkeys(self.matchers)
            if not (isinstance(m, Exact) and m.ip is None) and m != Exists(present=False)
        )

    def test(self, leaf: Leaf) -> bool:
        """Whether ``leaf`` satisfies some matcher of the list."""
        return leaf in self.exact or any(test(leaf) for test in self.tests)

    def any_leaf(self, leaves: list[Leaf]) -> bool:
        """Whether some leaf of ``leaves`` satisfies the condition."""
        exact, tests = self.exact, self.tests
        for leaf in leaves:
            if leaf in exact:
                return True
            for test in tests:
                if test(leaf):
                    return True
        return False
