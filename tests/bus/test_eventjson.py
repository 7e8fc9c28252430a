"""What the bus refuses as JSON, at the edge, instead of retrying it for a day."""

from __future__ import annotations

import json

import pytest

from pizzabus.bus.eventjson import MAX_NESTING, JsonRefused, loads_strict, nesting_depth


def _nested(depth: int) -> str:
    return '{"a":' * (depth - 1) + "[1]" + "}" * (depth - 1)


def test_nesting_at_eventbridges_limit_is_parsed() -> None:
    document = loads_strict(_nested(MAX_NESTING))
    # ... and can be written again by the stages after it
    assert json.loads(json.dumps(document)) == document


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 100_000])
def test_nesting_past_the_limit_is_refused_naming_it(depth: int) -> None:
    with pytest.raises(JsonRefused, match=f"nests {depth} levels deep; at most 1100"):
        loads_strict("[" * depth + "]" * depth)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = json.dumps({"s": "[" * 5000, "t": 'a"\\[{'})
    assert nesting_depth(text) == 1
    assert loads_strict(text)["s"] == "[" * 5000


@pytest.mark.parametrize(
    "number", ["1e400", "-1e400", "1" + "0" * 400, "9" * 5000, "2e308"], ids=str.__len__
)
def test_numbers_a_double_cannot_hold_are_refused(number: str) -> None:
    with pytest.raises(JsonRefused, match="out of range"):
        loads_strict(f'{{"n": {number}}}')


def test_large_numbers_a_double_holds_are_kept_exactly() -> None:
    big = "1" + "0" * 300
    assert loads_strict(f'{{"n": {big}, "f": 1.5e308}}') == {"n": int(big), "f": 1.5e308}


@pytest.mark.parametrize(
    "text",
    ['{"s": "\\ud800"}', '{"s": "\\udc00x"}', '{"s": "\\ud83c\\ud83c"}', '{"s": "\ud800"}'],
    ids=["high", "low", "high-high", "raw"],
)
def test_lone_surrogates_are_refused(text: str) -> None:
    with pytest.raises(JsonRefused, match="lone UTF-16 surrogate"):
        loads_strict(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [('{"s": "\\ud83c\\udf55"}', "\U0001f355"), ('{"s": "\\\\ud800"}', "\\ud800")],
    ids=["pair", "escaped-backslash"],
)
def test_surrogate_pairs_and_escaped_backslashes_are_fine(text: str, value: str) -> None:
    assert loads_strict(text) == {"s": value}


def test_nan_is_not_json() -> None:
    with pytest.raises(ValueError, match="NaN is not a JSON number"):
        loads_strict('{"n": NaN}')
