"""Operators on client-supplied strings take time linear in the string, whatever the pattern.

A backtracking wildcard (``*a*b*c*`` against 100,000 characters took more than 40 s) would let
any rule with a wildcard on a field the client fills stall the bus. The matchers are checked
against a reference on small inputs (hypothesis), then run on the inputs worst for them.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pizzabus.patterns import RuleSet
from pizzabus.patterns.textmatch import equals_ignore_case, parse_wildcard, wildcard_test

WILDCARDS = (
    st.lists(st.sampled_from(["a", "b", "ab", "*"]), max_size=6)
    .map("".join)
    .filter(lambda text: "**" not in text)
)
SUBJECTS = st.text(alphabet="abc", max_size=12)


def _reference(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else re.escape(c) for c in pattern), re.DOTALL)


@given(WILDCARDS, SUBJECTS)
@settings(max_examples=400)
def test_the_linear_wildcard_matches_exactly_what_a_regular_expression_matches(
    pattern: str, subject: str
) -> None:
    expected = _reference(pattern).fullmatch(subject) is not None
    assert wildcard_test(parse_wildcard(pattern))(subject) is expected


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("*a*b*c*", "a" * 100_000, False),
        ("*a*b*c*", "a" * 50_000 + "bc", True),
        ("*ab*ab*x", "ab" * 50_000, False),
        ("a*a", "a", False),  # the head and the tail may not overlap
        ("a*a", "aa", True),
        ("*", "", True),
    ],
    ids=["three-stars", "three-stars-match", "repeated-segment", "overlap", "no-overlap", "star"],
)
def test_pathological_wildcards_finish_and_answer_right(
    pattern: str, subject: str, expected: bool
) -> None:
    rules = RuleSet()
    rules.add("r", json.dumps({"detail": {"field": [{"wildcard": pattern}]}}))
    assert (rules.matching({"detail": {"field": subject}}) == ["r"]) is expected


@pytest.mark.parametrize(
    ("text", "subject", "expected"),
    [
        ("ßx", "ß" * 100_000 + "SSX", True),
        ("ßx", "ß" * 100_000, False),
        ("Ǆa", "x" * 10 + "ǆA", True),
    ],
    ids=["folds-to-two-letters", "no-match", "titlecase"],
)
def test_a_suffix_ignoring_case_looks_only_at_the_end_of_the_string(
    text: str, subject: str, expected: bool
) -> None:
    assert equals_ignore_case(text, "suffix")(subject) is expected
