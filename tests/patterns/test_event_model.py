"""The event model (SPEC §2) and ``$or`` expansion (§3.9)."""

from __future__ import annotations

from collections import UserDict
from enum import IntEnum
from typing import Any

import pytest

from pizzabus.patterns import compile_pattern

from .conftest import matches

PEOPLE = {"e": [{"f": "John", "l": "Doe"}, {"f": "Anna", "l": "Smith"}]}

MODEL = [
    pytest.param(
        {"e": {"f": ["Anna"], "l": ["Doe"]}},
        PEOPLE,
        False,
        id="array-fields-from-different-elements",
    ),
    pytest.param(
        {"e": {"f": ["Anna"], "l": ["Smith"]}}, PEOPLE, True, id="array-fields-from-one-element"
    ),
    pytest.param(
        {"e": {"f": ["Anna"]}, "x": ["1"]},
        {**PEOPLE, "x": "1"},
        True,
        id="field-outside-array-combines-freely",
    ),
    pytest.param(
        {"a": ["x"], "b": ["y"]},
        {"a": ["x", "z"], "b": ["q", "y"]},
        True,
        id="scalar-arrays-impose-no-constraint",
    ),
    pytest.param(
        {"o": {"i": {"a": ["1"], "b": ["2"]}}},
        {"o": [{"i": [{"a": "1"}, {"b": "2"}]}]},
        False,
        id="nested-arrays-need-the-same-inner-element",
    ),
    pytest.param(
        {"o": {"i": {"a": ["1"], "b": ["2"]}}},
        {"o": [{"i": [{"a": "1", "b": "2"}]}]},
        True,
        id="nested-arrays-same-inner-element",
    ),
    pytest.param({"m": ["x"]}, {"m": [["x"], ["y"]]}, True, id="arrays-of-arrays-are-walked"),
    pytest.param(
        {"e": {"f": ["Anna"], "l": ["Doe"]}},
        {"e": [{"f": "John", "l": "Doe", "x": 1, "y": 2}, {"f": "Anna", "l": "Smith", "x": 3}]},
        False,
        id="array-consistency-in-wide-elements",
    ),
    pytest.param(
        {"e": {"t": ["a"], "u": ["b"]}},
        {"e": [{"t": ["a"], "u": "c"}, {"t": ["z"], "u": "b"}]},
        False,
        id="array-consistency-through-scalar-lists",
    ),
    pytest.param(
        {"a": {"b": ["x"]}},
        {"a": [{"b": "x"}, {"c": 1}]},
        True,
        id="pattern-object-over-array-of-objects",
    ),
    pytest.param({"a": {"b": ["x"]}}, {"a.b": "x"}, True, id="dotted-event-key"),
    pytest.param({"a.b": ["x"]}, {"a": {"b": "x"}}, True, id="dotted-pattern-key"),
    pytest.param({"a": ["x"]}, {"a": {"b": "x"}}, False, id="leaf-pattern-over-object"),
    pytest.param({"a": ['{"k": 1}']}, {"a": '{"k": 1}'}, True, id="json-in-a-string-is-a-string"),
    pytest.param({"A": ["x"]}, {"a": "x"}, False, id="keys-are-case-sensitive"),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), MODEL)
def test_event_model_decides_like_eventbridge(pattern: Any, event: Any, expected: bool) -> None:
    assert matches(pattern, event) is expected


OR_CASES = [
    pytest.param({"$or": [{"a": ["1"]}, {"b": ["2"]}]}, {"b": "2"}, True, id="or-either-member"),
    pytest.param({"$or": [{"a": ["1"]}, {"b": ["2"]}]}, {"c": "3"}, False, id="or-neither-member"),
    pytest.param(
        {"a": ["1"], "$or": [{"a": ["2"]}, {"b": ["3"]}]},
        {"a": "2"},
        True,
        id="or-last-write-wins-overrides",
    ),
    pytest.param(
        {"a": ["1"], "$or": [{"a": ["2"]}, {"b": ["3"]}]},
        {"a": "1", "b": "3"},
        True,
        id="or-last-write-wins-other-branch",
    ),
    pytest.param(
        {"a": ["1"], "$or": [{"a": ["2"]}, {"b": ["3"]}]},
        {"a": "1"},
        False,
        id="or-last-write-wins-not-the-first",
    ),
    pytest.param(
        {"$or": [{"a": ["2"]}, {"b": ["3"]}], "a": ["1"]},
        {"a": "1", "b": "3"},
        True,
        id="or-write-after-overrides-all",
    ),
    pytest.param(
        {"$or": [{"a": ["2"]}, {"b": ["3"]}], "a": ["1"]},
        {"a": "2"},
        False,
        id="or-write-after-replaces-member",
    ),
    pytest.param(
        {"$or": [{"a": ["1"]}, {"a": ["2"]}], "x": {"$or": [{"b": ["1"]}, {"b": ["2"]}]}},
        {"a": "2", "x": {"b": "1"}},
        True,
        id="or-two-ors-cross-product",
    ),
    pytest.param(
        {"d": {"$or": [{"a": ["1"]}, {"$or": [{"b": ["2"]}, {"c": ["3"]}]}]}},
        {"d": {"c": "3"}},
        True,
        id="or-nested",
    ),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), OR_CASES)
def test_or_expands_into_sub_rules_like_event_ruler(
    pattern: Any, event: Any, expected: bool
) -> None:
    assert matches(pattern, event) is expected


def test_two_ors_in_one_object_make_every_combination() -> None:
    pattern = {
        "$or": [{"a": ["1"]}, {"a": ["2"]}],
        "x": {"$or": [{"b": ["1"]}, {"b": ["2"]}, {"b": ["3"]}]},
    }
    assert len(compile_pattern(pattern).subrules) == 6


TEXT_ONLY = [
    pytest.param(
        {"n": [12345678901234567890]},
        '{"n": 12345678901234567890}',
        True,
        id="big-number-same-text",
    ),
    pytest.param(
        {"n": [12345678901234567890]},
        '{"n": 12345678901234567891}',
        False,
        id="big-number-other-text",
    ),
    pytest.param(
        {"n": [{"numeric": [">", 0]}]},
        '{"n": 1e400}',
        False,
        id="overflowing-number-is-not-numeric",
    ),
    pytest.param(
        {"n": [{"numeric": [">", 0]}]},
        '{"n": 0.10000000000000001}',
        False,
        id="unrepresentable-number-is-not-numeric",
    ),
    pytest.param({"n": [300]}, '{"n": 3.0e2}', True, id="exponent-spelling-equal"),
    pytest.param({"n": [1]}, '{"n": true}', False, id="text-true-is-not-one"),
    pytest.param(
        {"k": ["a"]},
        '{"k": "b", "k": "a"}',
        True,
        id="duplicate-event-keys-keep-both-values-second",
    ),
    pytest.param(
        {"k": ["b"]}, '{"k": "b", "k": "a"}', True, id="duplicate-event-keys-keep-both-values-first"
    ),
]


@pytest.mark.parametrize(("pattern", "event_text", "expected"), TEXT_ONLY)
def test_event_text_keeps_what_a_dict_loses(pattern: Any, event_text: str, expected: bool) -> None:
    assert matches(pattern, event_text) is expected
    assert matches(pattern, event_text.encode()) is expected


def test_duplicate_pattern_keys_last_one_wins() -> None:
    pattern = '{"k": [{"prefix": "us-"}], "k": [{"anything-but": "us-east"}]}'
    assert matches(pattern, {"k": "eu-central-1"})


def test_dict_events_keep_booleans_apart_from_numbers() -> None:
    assert not matches({"n": [1]}, {"n": True})
    assert not matches({"n": [True]}, {"n": 1})
    assert matches({"n": [True]}, {"n": True})
    assert matches({"n": [1]}, {"n": 1.0})


ABSENT_G = {"e": {"f": ["A"], "h": ["1"], "g": [{"exists": False}]}}
TWO_PEOPLE = [{"f": "A", "h": "1"}, {"f": "B", "h": "2"}]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param({"e": TWO_PEOPLE}, True, id="absent-everywhere"),
        pytest.param({"e": [TWO_PEOPLE[0], {**TWO_PEOPLE[1], "g": 1}]}, True, id="in-another"),
        pytest.param({"e": [{**TWO_PEOPLE[0], "g": 1}, TWO_PEOPLE[1]]}, False, id="in-the-chosen"),
        pytest.param({"e.g": "x", "e": TWO_PEOPLE}, False, id="outside-any-array-before"),
        pytest.param({"e": TWO_PEOPLE, "e.g": "x"}, False, id="outside-any-array-after"),
    ],
)
def test_exists_false_under_an_array_looks_at_the_element_the_other_paths_chose(
    event: Any, expected: bool
) -> None:
    """Absence is judged once the other paths settled on an element (package docstring):
    a leaf in another element does not count, one outside every array always does."""
    assert compile_pattern(ABSENT_G).matches(event) is expected


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        pytest.param({"anything-but": "x"}, "x", False, id="anything-but-excluded"),
        pytest.param({"anything-but": "x"}, "y", True, id="anything-but-other"),
        pytest.param({"prefix": "A"}, "Ab", True, id="prefix"),
        pytest.param({"prefix": "A"}, "bA", False, id="prefix-elsewhere"),
    ],
)
def test_operators_are_tested_on_the_leaf_of_the_chosen_array_element(
    operator: Any, value: str, expected: bool
) -> None:
    pattern = {"e": {"f": [operator], "l": ["1"]}}
    assert compile_pattern(pattern).matches({"e": [{"f": value, "l": "1"}]}) is expected


def test_two_different_arrays_of_objects_constrain_nothing_between_them() -> None:
    pattern = {"a": {"x": [1]}, "b": {"y": [2]}}
    event = {"a": [{"x": 1}, {"x": 2}], "b": [{"y": 1}, {"y": 2}]}
    assert compile_pattern(pattern).matches(event)


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"a": [{"b": "1", "c": "3"}], "a.b": "2"}, id="scalar-after-array"),
        pytest.param({"a": [{"b": "1", "c": "3"}], "a.b": ["2"]}, id="string-list-after-array"),
    ],
)
def test_a_leaf_outside_any_array_pairs_with_any_element(event: Any) -> None:
    """A path may have leaves inside an array of objects and, through a dotted key, outside
    any: the outside one is compatible with every element."""
    assert compile_pattern({"a": {"b": ["2"], "c": ["3"]}}).matches(event)


def test_mappings_and_tuples_inside_an_event_are_walked() -> None:
    pattern = compile_pattern({"a": {"b": ["1"], "c": ["y"]}})
    assert pattern.matches({"a": UserDict({"b": "1", "c": ("x", "y")})})
    assert not pattern.matches({"a": UserDict({"b": "1", "c": ("x",)})})


def test_subclasses_of_scalars_in_an_event_are_their_values() -> None:
    class Level(IntEnum):
        HIGH = 3

    class Text(str):
        pass

    pattern = compile_pattern({"n": [3], "s": ["x"]})
    assert pattern.matches({"n": Level.HIGH, "s": Text("x")})
    assert not pattern.matches({"n": Level.HIGH, "s": Text("y")})


FILLERS = {f"filler{i}": i for i in range(6)}  # more keys than the rule reads: the fast walk


def test_a_wide_event_keeps_every_leaf_of_a_path_reached_twice() -> None:
    event = {"a.b": "x", "a": {"b": "y", **FILLERS}, **FILLERS}
    assert compile_pattern({"a": {"b": ["x"]}}).matches(event)
    assert compile_pattern({"a": {"b": ["y"]}}).matches(event)


def test_a_wide_event_pairs_a_leaf_outside_any_array_with_any_element() -> None:
    event = {"e": [{"f": "1", "g": "3"}], "e.f": "2", **FILLERS}
    assert compile_pattern({"e": {"f": ["2"], "g": ["3"]}}).matches(event)


def test_a_wide_event_keeps_infinity_out_of_numeric_ranges() -> None:
    pattern = compile_pattern({"n": [{"numeric": [">", 0]}]})
    assert not pattern.matches({"n": float("inf"), **FILLERS})
    assert pattern.matches({"n": 1.5, **FILLERS})


def test_objects_inside_tuples_and_mappings_keep_their_array_element() -> None:
    class Level(IntEnum):
        HIGH = 3

    nested = compile_pattern({"a": {"b": {"c": ["1"]}}})
    assert nested.matches({"a": ({"b": {"c": "1"}},)})
    assert nested.matches({"a": UserDict({"b": [{"c": "1"}]})})
    assert nested.matches(UserDict({"a": [{"b": {"c": "1"}}]}))
    same_element = compile_pattern({"e": {"f": [3], "g": ["y"]}})
    assert not same_element.matches({"e": [{"f": Level.HIGH, "g": "x"}, {"f": 1, "g": "y"}]})
    assert same_element.matches({"e": [{"f": Level.HIGH, "g": "y"}]})
