"""String operators that need more than ``startswith``: case folding and wildcards.

Case folding follows event-ruler: the event must supply, for each character of the pattern,
either its lower-case or its upper-case form (full Unicode mappings, so ``ß`` also accepts
``SS``, and ``ǅ`` accepts neither itself nor anything but ``ǆ``/``Ǆ``). Characters outside the
Basic Multilingual Plane are folded as whole code points here; see the package docstring for
why this departs from event-ruler.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from pizzabus.patterns.errors import InvalidEventPattern

#: A wildcard is refused when its complexity score reaches this (see `wildcard_complexity`).
COMPLEXITY_LIMIT: Final = 10
#: Explore at most this many distinct NFA configurations when scoring a wildcard.
_SCORE_BUDGET: Final = 4096

StrTest = Callable[[str], bool]


def _alternatives(text: str) -> str:
    parts = []
    for char in text:
        forms = sorted({char.lower(), char.upper()}, key=lambda form: (-len(form), form))
        parts.append("(?:" + "|".join(re.escape(form) for form in forms) + ")")
    return "".join(parts)


def equals_ignore_case(text: str, mode: str) -> StrTest:
    """A test of a string against ``text`` ignoring case; ``mode`` is exact, prefix or suffix."""
    if text.isascii():
        low, size = text.lower(), len(text)
        if mode == "exact":
            return lambda value: len(value) == size and value.isascii() and value.lower() == low
        if mode == "prefix":
            return lambda value: value[:size].isascii() and value[:size].lower() == low
        if size == 0:
            return lambda value: True
        return lambda value: value[-size:].isascii() and value[-size:].lower() == low
    # Every character is escaped, so there is no "." for re.DOTALL to change.
    body = _alternatives(text)
    if mode == "exact":
        return re.compile(body).fullmatch  # type: ignore[return-value]
    if mode == "prefix":
        return re.compile(body).match  # type: ignore[return-value]
    # Only the last characters can hold the suffix: searching the whole string would try the
    # pattern at every position (length of string times length of pattern).
    longest = sum(max(len(char.lower()), len(char.upper())) for char in text)
    search = re.compile(f"(?:{body})\\Z").search
    return lambda value: search(value[-longest:]) is not None


#: A parsed wildcard: literal characters, and ``None`` for each ``*``.
Glob = tuple[str | None, ...]


def parse_wildcard(text: str) -> Glob:
    """Parse a wildcard operand, raising AWS's errors (positions count UTF-8 bytes from 1)."""
    tokens: list[str | None] = []
    offset = 0
    index = 0
    while index < len(text):
        char = text[index]
        if char == "*":
            if index + 1 < len(text) and text[index + 1] == "*":
                raise InvalidEventPattern.because(
                    f"Consecutive wildcard characters at pos {offset + 1}"
                )
            tokens.append(None)
        elif char == "\\":
            if index + 1 < len(text) and text[index + 1] in "*\\":
                tokens.append(text[index + 1])
                index += 2
                offset += 2
                continue
            raise InvalidEventPattern.because(f"Invalid escape character at pos {offset + 1}")
        else:
            tokens.append(char)
        offset += len(char.encode("utf-8", "surrogatepass"))
        index += 1
    return tuple(tokens)


def wildcard_test(glob: Glob) -> StrTest:
    """A full-match test of a string against a parsed wildcard (``*`` spans anything).

    Linear in the length of the string, whatever the wildcard: a backtracking regular
    expression takes minutes on ``*a*b*c*`` against 100,000 characters, and any rule with a
    wildcard on a client-supplied field would stall the bus. With ``*`` as the only operator,
    taking each middle segment at its leftmost occurrence after the previous one never loses a
    match (a later occurrence leaves less room for the rest), so each character is looked at a
    bounded number of times (``str.find`` is linear).
    """
    segments = _segments(glob)
    if len(segments) == 1:
        return segments[0].__eq__
    head, *middle, tail = segments
    shortest = sum(map(len, segments))

    def test(value: str) -> bool:
        if len(value) < shortest or not value.startswith(head) or not value.endswith(tail):
            return False
        position, end = len(head), len(value) - len(tail)
        for segment in middle:
            found = value.find(segment, position, end)
            if found < 0:
                return False
            position = found + len(segment)
        return True

    return test


def _segments(glob: Glob) -> list[str]:
    """The literal runs between the ``*`` of a wildcard (n stars give n + 1 runs)."""
    segments = [""]
    for token in glob:
        if token is None:
            segments.append("")
        else:
            segments[-1] += token
    return segments


def wildcard_complexity(glob: Glob) -> int:
    """A stand-in for event-ruler's ``MachineComplexityEvaluator`` score of one wildcard.

    The score is the most NFA states a worst-case input keeps alive at once, where the state
    after a literal that a ``*`` follows counts twice on the step that enters it (event-ruler
    keeps a state and its "any byte" transition). It reproduces every score AWS's accept/reject
    decisions pin down (accepted at 9, rejected at 11; see SPEC §3.4), and is 1 lower than
    event-ruler for runs of a repeated separator (``*:*:*:x/*`` scores 6, not 7), which is why
    the limit is "reaches 10" rather than "exceeds 10".
    """
    literals: list[str] = []
    loops = [False]
    for token in glob:
        if token is None:
            loops[-1] = True
        else:
            literals.append(token)
            loops.append(False)
    final = len(literals)

    def weight(config: frozenset[tuple[int, bool]]) -> int:
        total = 0
        for state, fresh in config:
            if loops[state]:
                total += 2 if fresh else 1
            elif state != final:
                total += 1
        return total

    start = frozenset({(0, False)})
    best = weight(start)
    seen = {start}
    frontier = [start]
    alphabet = [*sorted(set(literals)), "\x00"]
    while frontier and len(seen) < _SCORE_BUDGET and best < COMPLEXITY_LIMIT:
        config = frontier.pop()
        for char in alphabet:
            nxt: dict[int, bool] = {}
            for state, _fresh in config:
                if loops[state]:
                    nxt.setdefault(state, False)
                if state < final and literals[state] == char:
                    nxt[state + 1] = True
            if not nxt:
                continue
            following = frozenset(nxt.items())
            if following not in seen:
                seen.add(following)
                frontier.append(following)
                best = max(best, weight(following))
    return best
