"""Properties that must hold for every pattern and event (hypothesis)."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import event as event_label
from hypothesis import strategies as st

from pizzabus.patterns import InvalidEventPattern, RuleSet, compile_pattern

KEYS = st.sampled_from(["a", "b", "c", "a.b"])
SCALARS = st.sampled_from(["x", "y", "xy", "X", "", "10.0.0.1", 0, 1, 2.5, -1, True, False, None])
MATCHERS = st.one_of(
    SCALARS,
    st.sampled_from(
        [
            {"prefix": "x"},
            {"suffix": "y"},
            {"equals-ignore-case": "X"},
            {"prefix": {"equals-ignore-case": "X"}},
            {"anything-but": "x"},
            {"anything-but": [1, 2.5]},
            {"anything-but": {"prefix": "x"}},
            {"numeric": [">", 0]},
            {"numeric": [">=", -1, "<", 2]},
            {"numeric": ["=", 1]},
            {"exists": True},
            {"exists": False},
            {"wildcard": "x*"},
            {"cidr": "10.0.0.0/8"},
        ]
    ),
)
LEAF_PATTERN = st.lists(MATCHERS, min_size=1, max_size=3)
PATTERNS: st.SearchStrategy[dict[str, Any]] = st.recursive(
    st.dictionaries(KEYS, LEAF_PATTERN, min_size=1, max_size=3),
    lambda inner: st.dictionaries(KEYS, st.one_of(LEAF_PATTERN, inner), min_size=1, max_size=3),
    max_leaves=6,
)
EVENTS: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=10,
).filter(lambda event: isinstance(event, dict))

FAST = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)


def _shuffled(node: Any, rng: random.Random) -> Any:
    if isinstance(node, dict):
        items = list(node.items())
        rng.shuffle(items)
        return {key: _shuffled(value, rng) for key, value in items}
    return node


def _paths(pattern: dict[str, Any], prefix: str = "") -> set[str]:
    found: set[str] = set()
    for key, value in pattern.items():
        path = f"{prefix}{key}"
        found |= _paths(value, f"{path}.") if isinstance(value, dict) else {path}
    return found


@FAST
@given(
    patterns=st.lists(PATTERNS, min_size=1, max_size=6),
    events=st.lists(EVENTS, min_size=1, max_size=4),
)
def test_rule_set_answers_as_each_pattern_alone(
    patterns: list[dict[str, Any]], events: list[Any]
) -> None:
    rules = RuleSet()
    compiled = {}
    for i, pattern in enumerate(patterns):
        compiled[f"r{i}"] = compile_pattern(pattern)
        rules.add(f"r{i}", pattern)
    for event in events:
        expected = [name for name, one in compiled.items() if one.matches(event)]
        assert rules.matching(event) == expected
        assert rules.matching(json.dumps(event)) == expected


@FAST
@given(pattern=PATTERNS, event=EVENTS, seed=st.integers(0, 1000))
def test_key_order_in_the_pattern_does_not_change_the_answer(
    pattern: dict[str, Any], event: Any, seed: int
) -> None:
    reordered = _shuffled(pattern, random.Random(seed))
    assert compile_pattern(reordered).matches(event) == compile_pattern(pattern).matches(event)


def _leaves(
    event: dict[str, Any], prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], Any]]:
    """The (path, scalar) pairs of an event reached through objects only."""
    found = []
    for key, value in event.items():
        if "." in key:
            continue  # a dotted pattern key means a path: keep derived patterns plain
        if isinstance(value, dict):
            found += _leaves(value, (*prefix, key))
        elif not isinstance(value, list):
            found.append(((*prefix, key), value))
    return found


def _pattern_at(path: tuple[str, ...], leaf: list[Any]) -> dict[str, Any]:
    pattern: Any = leaf
    for key in reversed(path):
        pattern = {key: pattern}
    return dict(pattern)


@st.composite
def _pattern_for(draw: st.DrawFn, event: dict[str, Any]) -> dict[str, Any]:
    """Half the time a pattern the event matches (one of its own values, or exists), else any
    pattern: so that about half the ``$or`` pairs match, instead of almost none."""
    leaves = _leaves(event)
    if leaves and draw(st.booleans()):
        path, value = draw(st.sampled_from(leaves))
        return _pattern_at(path, draw(st.sampled_from([[value], [{"exists": True}]])))
    return draw(PATTERNS)


@st.composite
def _or_cases(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    event = draw(EVENTS)
    return draw(_pattern_for(event)), draw(_pattern_for(event)), event


@FAST
@given(case=_or_cases())
def test_or_of_two_patterns_matches_when_either_does(
    case: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
) -> None:
    first, second, event = case
    assume(not _paths(first) & _paths(second))  # $or needs disjoint paths; see the next test
    either = compile_pattern({"$or": [first, second]}).matches(event)
    alone = [compile_pattern(first).matches(event), compile_pattern(second).matches(event)]
    event_label("or-pair matches" if any(alone) else "or-pair matches nothing")
    assert either == any(alone)


def _compile_or_reject(text: str) -> None:
    message = "Event pattern is not valid. Reason: (compiled)"
    try:
        compile_pattern(text)
    except InvalidEventPattern as error:
        message = error.message
    assert message.startswith("Event pattern is not valid. Reason: ")


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=15,
)
OPERATOR_OBJECTS = st.dictionaries(
    st.sampled_from(
        [
            "prefix",
            "suffix",
            "anything-but",
            "numeric",
            "exists",
            "cidr",
            "wildcard",
            "equals-ignore-case",
            "exactly",
            "$or",
        ]
    ),
    JSON_VALUES,
    min_size=1,
    max_size=2,
)


@settings(max_examples=300, deadline=None)
@given(
    value=JSON_VALUES
    | st.dictionaries(KEYS, st.lists(OPERATOR_OBJECTS | JSON_VALUES, max_size=3), max_size=3)
)
def test_compiling_arbitrary_json_raises_only_invalid_event_pattern(value: Any) -> None:
    _compile_or_reject(json.dumps(value))


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="{}[]\":,01-.eE tnrufalsx\\'", max_size=30))
def test_compiling_arbitrary_text_raises_only_invalid_event_pattern(text: str) -> None:
    _compile_or_reject(text)
