"""The engine's entry points at their edges: the envelope check, what `compile_pattern` and
`matches` accept, and the `RuleSet` container and its cached index."""

from __future__ import annotations

import json
from collections import UserDict
from typing import Any

import pytest

from pizzabus.patterns import (
    REQUIRED_FIELDS,
    InvalidEvent,
    RuleSet,
    compile_pattern,
    validate_event_envelope,
)
from pizzabus.patterns.jsontext import JsonObject

from .conftest import envelope

# -- the envelope of TestEventPattern -------------------------------------------------------


def test_the_required_fields_are_the_ones_aws_checks() -> None:
    assert REQUIRED_FIELDS == ("id", "account", "source", "time", "region", "detail-type")


@pytest.mark.parametrize("form", ["text", "bytes", "dict"])
def test_an_event_with_the_envelope_is_returned_parsed(form: str) -> None:
    event = envelope(n=1)
    given: Any = {"text": json.dumps(event), "bytes": json.dumps(event).encode(), "dict": event}[
        form
    ]
    tree = validate_event_envelope(given)
    if form == "dict":
        assert tree is event
    else:
        assert isinstance(tree, JsonObject)
        assert [key for key, _ in tree] == list(event)


@pytest.mark.parametrize("missing", REQUIRED_FIELDS)
@pytest.mark.parametrize("form", ["text", "dict"])
def test_an_event_without_a_required_field_is_refused(missing: str, form: str) -> None:
    event = {key: value for key, value in envelope().items() if key != missing}
    with pytest.raises(InvalidEvent) as raised:
        validate_event_envelope(json.dumps(event) if form == "text" else event)
    assert raised.value.message == "Parameter Event is not valid."


@pytest.mark.parametrize("text", ["[1]", '"x"', "null", "{", '{"a": NaN}'])
def test_an_event_that_is_no_json_object_is_refused(text: str) -> None:
    with pytest.raises(InvalidEvent, match=r"^Parameter Event is not valid\.$"):
        validate_event_envelope(text)


def test_an_event_that_is_any_mapping_is_checked_by_its_keys() -> None:
    assert validate_event_envelope(UserDict(envelope())) == UserDict(envelope())
    with pytest.raises(InvalidEvent):
        validate_event_envelope(UserDict({"id": "1"}))


# -- compile_pattern and matches ------------------------------------------------------------


def test_a_compiled_pattern_keeps_its_source_and_sorted_sub_rules() -> None:
    pattern = compile_pattern('{"b": ["1"], "a": ["2"]}')
    assert pattern.source == '{"b": ["1"], "a": ["2"]}'
    assert repr(pattern) == """CompiledPattern('{"b": ["1"], "a": ["2"]}')"""
    assert [path for path, _ in pattern.subrules[0]] == ["a", "b"]
    assert pattern.plan.paths == frozenset({"a", "b"})


@pytest.mark.parametrize("form", ["text", "bytes", "dict", "mapping", "tree"])
def test_an_event_may_be_text_bytes_or_any_mapping(form: str) -> None:
    event = {"a": {"b": 1}}
    given: Any = {
        "text": json.dumps(event),
        "bytes": json.dumps(event).encode(),
        "dict": event,
        "mapping": UserDict(event),
        "tree": JsonObject([("a", JsonObject([("b", 1.0)]))]),
    }[form]
    assert compile_pattern('{"a": {"b": [1]}}').matches(given)
    assert not compile_pattern('{"a": {"b": [2]}}').matches(given)


@pytest.mark.parametrize("text", ["{", '{"a": NaN}', "[" * 100_000])
def test_event_text_that_is_not_strict_json_is_an_invalid_event(text: str) -> None:
    with pytest.raises(InvalidEvent):
        compile_pattern('{"a": ["x"]}').matches(text)


def test_an_event_of_another_type_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match=r"^an event is JSON text or a mapping, not list$"):
        compile_pattern('{"a": ["x"]}').matches([1])  # type: ignore[arg-type]


# -- the rule set as a container ------------------------------------------------------------


def test_a_rule_set_lists_gets_and_counts_its_rules() -> None:
    rules = RuleSet()
    assert len(rules) == 0
    assert list(rules) == []
    rules.add("b", '{"a": ["1"]}')
    rules.add("a", '{"a": ["2"]}')
    assert len(rules) == 2
    assert list(rules) == ["b", "a"]
    assert "a" in rules
    assert "c" not in rules
    assert rules["b"].source == '{"a": ["1"]}'
    with pytest.raises(KeyError):
        rules["c"]


def test_iterating_a_rule_set_while_it_changes_is_safe() -> None:
    rules = RuleSet()
    rules.add("a", '{"a": ["1"]}')
    for name in rules:
        rules.add(name + "2", '{"a": ["1"]}')
    assert list(rules) == ["a", "a2"]


def test_the_index_is_reused_until_the_rules_change() -> None:
    rules = RuleSet()
    rules.add("a", '{"a": ["1"]}')
    assert rules.matching({"a": "1"}) == ["a"]
    first = rules._index
    assert first is not None
    assert rules.matching({"a": "2"}) == []
    assert rules._index is first
    rules.add("b", '{"a": ["2"]}')
    assert rules._index is None
    assert rules.matching({"a": "2"}) == ["b"]
    assert rules._index is not first
    built = rules._index
    rules.remove("b")
    assert rules._index is None
    assert rules.matching({"a": "2"}) == []
    assert rules._index is not built


def test_an_empty_rule_set_matches_nothing() -> None:
    assert RuleSet().matching(envelope()) == []
