"""The AWS-checked vectors: every verdict and every error message must agree with AWS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pizzabus.patterns import (
    InvalidEvent,
    InvalidEventPattern,
    RuleSet,
    compile_pattern,
    validate_event_envelope,
)

from .conftest import VECTORS_DIR, load_vectors

VECTORS = load_vectors("aws_validated_vectors.json")
EXTRA = load_vectors("aws_validated_extra_vectors.json")


def _params(vectors: list[dict[str, Any]]) -> list[Any]:
    return [pytest.param(vector, id=vector["name"]) for vector in vectors]


def _aws_message(vector: dict[str, Any]) -> str:
    if vector.get("aws_error_message"):
        return str(vector["aws_error_message"])
    return str(vector["aws_error"]["Message"])


def _verdict(vector: dict[str, Any]) -> str:
    try:
        validate_event_envelope(vector["event_json"])
    except InvalidEvent:
        return "invalid_event"
    try:
        pattern = compile_pattern(vector["pattern_json"])
    except InvalidEventPattern as error:
        return "invalid" if error.message == _aws_message(vector) else f"other error: {error}"
    return "match" if pattern.matches(vector["event_json"]) else "no_match"


def test_the_vector_files_hold_every_case_aws_answered() -> None:
    """The guard: it has no skip, so the 300-odd cases below can never vanish silently."""
    assert VECTORS_DIR.is_dir()
    assert len(VECTORS) == 155
    assert [sum(v["expected"] == kind for v in VECTORS) for kind in ("match", "no_match")] == [
        66,
        51,
    ]
    assert sum(v["expected"] == "invalid" for v in VECTORS) == 38
    assert len(EXTRA) == 20
    assert len({v["name"] for v in VECTORS}) == 155


def test_the_large_payload_cases_carry_the_35_kb_event() -> None:
    payload = json.loads((VECTORS_DIR / "large_complex_payload.json").read_text(encoding="utf-8"))
    large = [v for v in EXTRA if v["name"].startswith("large_payload")]
    assert len(large) == 2
    assert all(json.loads(v["event_json"]) == payload for v in large)


@pytest.mark.parametrize("vector", _params(VECTORS))
def test_aws_vector_gets_the_verdict_and_message_aws_gave(vector: dict[str, Any]) -> None:
    assert _verdict(vector) == vector["expected"]


@pytest.mark.parametrize("vector", _params(EXTRA))
def test_extra_aws_case_gets_the_verdict_and_message_aws_gave(vector: dict[str, Any]) -> None:
    assert _verdict(vector) == vector["expected"]


@pytest.mark.parametrize(
    "vector", _params([v for v in VECTORS + EXTRA if v["expected"] in ("match", "no_match")])
)
def test_rule_set_and_dict_events_agree_with_aws_too(vector: dict[str, Any]) -> None:
    rules = RuleSet()
    rules.add("rule", vector["pattern_json"])
    expected = ["rule"] if vector["expected"] == "match" else []
    assert rules.matching(vector["event_json"]) == expected
    assert rules.matching(json.loads(vector["event_json"])) == expected
