"""The three event-ruler quirks AWS has not confirmed, decided as the package docstring says."""

from __future__ import annotations

import pytest

from .conftest import matches

ROCKET = "\U0001f680"


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        pytest.param(
            {"equals-ignore-case": f"go {ROCKET}"},
            f"GO {ROCKET}",
            True,
            id="eic-emoji-identical-matches",
        ),
        pytest.param(
            {"equals-ignore-case": ROCKET},
            "??",
            False,
            id="eic-emoji-does-not-match-question-marks",
        ),
        pytest.param(
            {"prefix": {"equals-ignore-case": ROCKET}}, f"{ROCKET}x", True, id="prefix-eic-emoji"
        ),
        pytest.param(
            {"suffix": {"equals-ignore-case": ROCKET}}, f"x{ROCKET}", True, id="suffix-eic-emoji"
        ),
        pytest.param(
            {"anything-but": {"equals-ignore-case": ROCKET}},
            ROCKET,
            False,
            id="ab-eic-emoji-excludes-it",
        ),
        pytest.param(
            {"equals-ignore-case": "\U00010400"}, "\U00010428", True, id="eic-astral-letters-fold"
        ),
    ],
)
def test_astral_characters_fold_as_whole_code_points(
    pattern: object, value: str, expected: bool
) -> None:
    assert matches({"v": [pattern]}, {"v": value}) is expected


def test_exists_false_under_arrays_does_not_depend_on_key_spelling() -> None:
    # event-ruler: match when the absent key sorts after the pinned one ("b" < "c") ...
    assert matches({"k": {"b": [1], "c": [{"exists": False}]}}, {"k": [{"b": 1}, {"c": 2}]})
    # ... and no match when it sorts before ("c" < "z"); we answer the same for both spellings.
    assert matches({"k": {"z": [1], "c": [{"exists": False}]}}, {"k": [{"z": 1}, {"c": 2}]})


def test_exists_false_under_arrays_still_sees_the_chosen_element() -> None:
    assert not matches({"k": {"b": [1], "c": [{"exists": False}]}}, {"k": [{"b": 1, "c": 2}]})


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        pytest.param(
            "2001:db8::1", "2001:0db8:0000:0000:0000:0000:0000:0001", True, id="ipv6-any-spelling"
        ),
        pytest.param("2001:db8::1", "2001:db8::2", False, id="ipv6-other-address"),
        pytest.param("10.0.0.1", "10.0.0.1", True, id="ipv4-identical"),
        pytest.param("::ffff:a00:1", "10.0.0.1", True, id="ipv4-mapped-hex-is-ipv4"),
        pytest.param("10.0.0.1", "10.0.0.1 ", False, id="not-ip-shaped-is-exact"),
    ],
)
def test_ip_shaped_exact_strings_match_any_spelling_of_the_address(
    pattern: str, value: str, expected: bool
) -> None:
    assert matches({"ip": [pattern]}, {"ip": value}) is expected
