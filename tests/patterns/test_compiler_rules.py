"""The compiler's checks one by one: every message, at every place it can be raised, and the
limits at their boundaries (both sides), beyond the table of `test_errors`."""

from __future__ import annotations

from typing import Any

import pytest

from pizzabus.patterns import InvalidEventPattern, compile_pattern
from pizzabus.patterns.compiler import RESERVED_IN_OR, TOO_COMPLEX

from .conftest import matches

ONE_KEY = "Only one key allowed in match expression"
EIC_STRING = "equals-ignore-case match pattern must be a string"
AB_VALUE = "Value of anything-but must be an array or single string/number value."
MIXED = (
    "Inside anything but list, either all values are number or string, mixed type is not supported"
)
TOO_MANY = "Too many elements in numeric expression"


def reason_for(pattern: Any) -> str:
    with pytest.raises(InvalidEventPattern) as raised:
        compile_pattern(pattern)
    return raised.value.reason


# The names event-ruler reserves inside $or, as AWS lists them; each must be refused there.
RESERVED = [
    "exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists", "wildcard",
    "numeric", "cidr", "=", "<", "<=", ">", ">=", "regex", "not-wildcard",
    "not-equals-ignore-case", "date-after", "date-on-or-after", "date-before",
    "date-on-or-before", "in-date-range", "ip-address-in-range", "ip-address-not-in-range",
]  # fmt: skip


def test_the_reserved_names_are_exactly_event_rulers() -> None:
    assert set(RESERVED) == RESERVED_IN_OR


@pytest.mark.parametrize("name", RESERVED)
def test_a_reserved_name_is_refused_as_a_field_inside_or(name: str) -> None:
    pattern = {"$or": [{"a": ["1"]}, {name: ["b"]}]}
    assert (
        reason_for(pattern)
        == f"{name} is Ruler reserved fieldName which cannot be used inside $or."
    )


@pytest.mark.parametrize("name", ["prefix", "numeric", "<"])
def test_a_reserved_name_is_an_ordinary_field_outside_or(name: str) -> None:
    assert matches({name: ["b"]}, {name: "b"})
    assert matches({"a": {name: ["b"]}}, {"a": {name: "b"}})


def test_a_reserved_name_is_refused_anywhere_below_or() -> None:
    pattern = {"$or": [{"a": ["1"]}, {"b": {"suffix": ["x"]}}]}
    assert (
        reason_for(pattern) == "suffix is Ruler reserved fieldName which cannot be used inside $or."
    )


def test_or_inside_a_field_prefixes_the_paths_of_its_members() -> None:
    pattern = {"a": {"$or": [{"b": ["1"]}, {"c": ["2"]}]}}
    assert matches(pattern, {"a": {"c": "2"}})
    assert matches(pattern, {"a": {"b": "1"}})
    assert not matches(pattern, {"c": "2"})
    assert not matches(pattern, {"a": {"b": "2"}})


def test_or_members_each_keep_the_conditions_before_them() -> None:
    pattern = {"x": ["1"], "$or": [{"a": ["1"]}, {"b": ["1"]}], "y": ["1"]}
    assert matches(pattern, {"x": "1", "a": "1", "y": "1"})
    assert not matches(pattern, {"a": "1", "y": "1"})
    assert not matches(pattern, {"x": "1", "b": "1"})
    assert len(compile_pattern(pattern).subrules) == 2


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        pytest.param('{"$or":"x"}', "It must be an Array followed with $or.", id="string"),
        pytest.param('{"$or":1}', "It must be an Array followed with $or.", id="number"),
        pytest.param('{"$or":{"a":["1"]}}', "It must be an Array followed with $or.", id="object"),
        pytest.param(
            '{"$or":[]}', "There must have at least 2 Objects in $or relationship.", id="empty"
        ),
        pytest.param(
            '{"$or":[{"a":["1"]},["b"]]}',
            "Only JSON object is allowed in array of $or relationship.",
            id="array-member",
        ),
        pytest.param(
            '{"$or":[{"a":["1"]},{"b":["2"]}],"c":[]}',
            "Empty arrays are not allowed",
            id="checked-after-or",
        ),
        pytest.param('{"$or":[{"a":["1"]},{"b":[]}]}', "Empty arrays are not allowed", id="member"),
    ],
)
def test_or_structure_is_checked_with_event_rulers_words(pattern: str, reason: str) -> None:
    assert reason_for(pattern) == reason


def test_two_or_members_are_enough() -> None:
    pattern = compile_pattern('{"$or":[{"a":["1"]},{"b":["2"]}]}')
    assert pattern.matches({"b": "2"})
    assert len(pattern.subrules) == 2


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param('"x"', '"a" must be an object or an array', id="string"),
        pytest.param("1", '"a" must be an object or an array', id="number"),
        pytest.param("true", '"a" must be an object or an array', id="true"),
        pytest.param("false", '"a" must be an object or an array', id="false"),
    ],
)
def test_a_field_must_hold_an_object_or_an_array(value: str, reason: str) -> None:
    assert reason_for('{"a":' + value + "}") == reason


@pytest.mark.parametrize(
    ("operand", "text"),
    [
        pytest.param("{}", "{", id="object"),
        pytest.param("[1]", "[", id="array"),
        pytest.param("true", "true", id="true"),
        pytest.param("false", "false", id="false"),
        pytest.param("null", "null", id="null"),
        pytest.param("1.50", "1.50", id="number-as-written"),
        pytest.param("-2.5e1", "-2.5e1", id="exponent-as-written"),
    ],
)
def test_numeric_names_the_token_it_could_not_use(operand: str, text: str) -> None:
    """Jackson's ``getText()`` of the offending token: a bracket for a container, a number
    exactly as written."""
    assert reason_for('{"a":[{"numeric":[' + operand + "]}]}") == (
        f"Invalid member in numeric match: {text}"
    )
    assert reason_for('{"a":[{"numeric":[">",1,' + operand + "]}]}") == (
        f"Bad value in numeric range: {text}"
    )


@pytest.mark.parametrize(
    ("operands", "reason"),
    [
        pytest.param('["<"]', "Value of < must be numeric", id="less-alone"),
        pytest.param('["<="]', "Value of <= must be numeric", id="less-equal-alone"),
        pytest.param('["="]', "Value of equals must be numeric", id="equal-alone"),
        pytest.param('[">"]', "Value of > must be numeric", id="greater-alone"),
        pytest.param('["<", "1"]', "Value of < must be numeric", id="less-string"),
        pytest.param('[">", null]', "Value of > must be numeric", id="greater-null"),
        pytest.param('["=", 5, 6]', TOO_MANY, id="equal-then-more"),
        pytest.param('["<=", 5, 6]', TOO_MANY, id="less-equal-then-more"),
        pytest.param('["<", 5, "<", 6]', TOO_MANY, id="less-then-more"),
        pytest.param('[">", 1, "<="]', "Value of <= must be numeric", id="top-missing"),
        pytest.param('[">", 1, "<", "2"]', "Value of < must be numeric", id="top-string"),
        pytest.param('[">", 1, ">=", 2]', "Bad numeric range operator: >=", id="two-lows"),
        pytest.param('[">", 1, "=", 2]', "Bad numeric range operator: =", id="equal-as-top"),
        pytest.param('[">=", 1, "<", 2, "x"]', "Too many terms in numeric range expression"),
        pytest.param('[">", 5, "<", 5]', "Bottom must be less than top", id="empty-open"),
        pytest.param('[">", 5, "<", 4]', "Bottom must be less than top", id="reversed"),
        pytest.param('["<", 1e400]', "Cannot compare number : 1e400", id="less-overflow"),
        pytest.param('[">", 1, "<", 1e400]', "Cannot compare number : 1e400", id="top-overflow"),
        pytest.param("{}", "Value of numeric must be an array.", id="object"),
        pytest.param('"1"', "Value of numeric must be an array.", id="string"),
    ],
)
def test_numeric_operands_are_checked_in_order(operands: str, reason: str) -> None:
    assert reason_for('{"a":[{"numeric":' + operands + "}]}") == reason


@pytest.mark.parametrize(
    ("operands", "inside", "outside"),
    [
        pytest.param(["=", 5], [5, 5.0], [4.999999, 5.000001]),
        pytest.param(["<", 5], [4.999999, -1e300], [5, 6]),
        pytest.param(["<=", 5], [5, 4.999999], [5.000001]),
        pytest.param([">", 5], [5.000001, 1e300], [5, 4]),
        pytest.param([">=", 5], [5, 5.000001], [4.999999]),
        pytest.param([">", 1, "<", 5], [1.000001, 4.999999], [1, 5]),
        pytest.param([">=", 1, "<", 5], [1, 4.999999], [0.999999, 5]),
        pytest.param([">", 1, "<=", 5], [1.000001, 5], [1, 5.000001]),
        pytest.param([">=", 1, "<=", 5], [1, 5], [0.999999, 5.000001]),
        pytest.param([">=", 5, "<", 5.000001], [5], [5.000001]),
    ],
)
def test_numeric_bounds_are_open_or_closed_as_written(
    operands: list[Any], inside: list[float], outside: list[float]
) -> None:
    pattern = compile_pattern({"a": [{"numeric": operands}]})
    for number in inside:
        assert pattern.matches({"a": number}), number
        assert pattern.matches(f'{{"a": {number!r}}}'), number
    for number in outside:
        assert not pattern.matches({"a": number}), number


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        pytest.param('{"suffix":{}}', "Suffix expression name not found", id="suffix-empty"),
        pytest.param('{"suffix":{"prefix":"x"}}', "Unsupported suffix pattern: prefix"),
        pytest.param('{"suffix":{"equals-ignore-case":1}}', EIC_STRING),
        pytest.param('{"prefix":{"equals-ignore-case":"x","y":1}}', ONE_KEY, id="nested-two-keys"),
        pytest.param('{"prefix":{"equals-ignore-case":"x"},"y":1}', ONE_KEY, id="prefix-eic-more"),
        pytest.param('{"suffix":1}', "suffix match pattern must be a string", id="suffix-number"),
        pytest.param('{"suffix":["x"]}', "suffix match pattern must be a string", id="suffix-list"),
        pytest.param('{"prefix":null}', "prefix match pattern must be a string", id="prefix-null"),
        pytest.param('{"exactly":"x","y":1}', ONE_KEY, id="exactly-more"),
        pytest.param('{"cidr":"10.0.0.0/8","y":1}', ONE_KEY, id="cidr-more"),
        pytest.param('{"cidr":1}', "prefix match pattern must be a string", id="cidr-number"),
        pytest.param('{"exists":true,"y":1}', ONE_KEY, id="exists-more"),
        pytest.param('{"exists":null}', "exists match pattern must be either true or false."),
        pytest.param('{"exists":1}', "exists match pattern must be either true or false."),
        pytest.param('{"equals-ignore-case":1}', EIC_STRING),
        pytest.param('{"equals-ignore-case":"x","y":1}', ONE_KEY, id="eic-more"),
        pytest.param('{"wildcard":1}', "wildcard match pattern must be a string", id="wc-number"),
        pytest.param('{"wildcard":"x","y":1}', ONE_KEY, id="wildcard-more"),
        pytest.param('{"numeric":["<",1],"x":1}', TOO_MANY, id="numeric-more"),
        pytest.param('{"regex":"x"}', "Unrecognized match type regex", id="unsupported-name"),
    ],
)  # fmt: skip
def test_match_expressions_are_checked_with_aws_words(expression: str, reason: str) -> None:
    assert reason_for('{"a":[' + expression + "]}") == reason


@pytest.mark.parametrize(
    ("operand", "reason"),
    [
        pytest.param('{"x":1}', "Unsupported anything-but pattern: x", id="unknown-kind"),
        pytest.param('{"numeric":[">",1]}', "Unsupported anything-but pattern: numeric"),
        pytest.param('{"prefix":"a","suffix":"b"}', TOO_MANY, id="two-kinds"),
        pytest.param('{"prefix":["a",""]}', "Null prefix/suffix not allowed", id="prefix-empty"),
        pytest.param('{"suffix":""}', "Null prefix/suffix not allowed", id="suffix-empty"),
        pytest.param('{"suffix":[]}', "Empty arrays are not allowed", id="suffix-no-texts"),
        pytest.param('{"equals-ignore-case":[]}', "Empty arrays are not allowed", id="eic-none"),
        pytest.param('{"wildcard":[]}', "Empty arrays are not allowed", id="wildcard-no-texts"),
        pytest.param('{"wildcard":["a",1]}', "wildcard match pattern must be a string"),
        pytest.param('{"suffix":[1]}', "prefix/suffix match pattern must be a string"),
        pytest.param(
            '{"equals-ignore-case":null}',
            "Value of anything-but must be an array or single string/number value.",
            id="eic-null",
        ),
        pytest.param(
            '{"equals-ignore-case":[null]}',
            "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not "
            "supported.",
            id="eic-null-in-list",
        ),
        pytest.param("null", AB_VALUE),
        pytest.param("{}", "Anything-But expression name not found", id="empty-object"),
        pytest.param('[1,"a"]', MIXED),
        pytest.param("[1,null]", "Inside anything but list, start|null|boolean is not supported."),
        pytest.param("[{}]", "Inside anything but list, start|null|boolean is not supported."),
        pytest.param("[[1]]", "Inside anything but list, start|null|boolean is not supported."),
        pytest.param("[false]", "Inside anything but list, start|null|boolean is not supported."),
        pytest.param("[0.30000000000000001]", "Cannot compare number : 0.30000000000000001"),
    ],
)  # fmt: skip
def test_anything_but_operands_are_checked_with_aws_words(operand: str, reason: str) -> None:
    assert reason_for('{"a":[{"anything-but":' + operand + "}]}") == reason


@pytest.mark.parametrize(
    ("operand", "excluded", "passes"),
    [
        pytest.param('"x"', ["x"], ["y", 1, None]),
        pytest.param("5", [5, 5.0], [5.000001, "5"]),
        pytest.param('["a","b"]', ["a", "b"], ["c"]),
        pytest.param("[1,2]", [1, 2.0], [3, "1"]),
        pytest.param('{"prefix":"in"}', ["in", "init"], ["xin", 1]),
        pytest.param('{"prefix":["a","b"]}', ["ax", "bx"], ["cx"]),
        pytest.param('{"suffix":".t"}', [".t", "a.t"], ["a.tx", 2]),
        pytest.param('{"suffix":[".t",".u"]}', ["a.t", "a.u"], ["a.v"]),
        pytest.param('{"equals-ignore-case":"Ab"}', ["ab", "AB"], ["abc", "a"]),
        pytest.param('{"equals-ignore-case":""}', [""], ["a"]),
        pytest.param('{"wildcard":"a*b"}', ["ab", "axxb"], ["ba", "abx"]),
        pytest.param('{"wildcard":["a*","*z"]}', ["ab", "yz"], ["by"]),
        pytest.param('{"wildcard":""}', [""], ["x"]),
        pytest.param(
            '{"prefix":"a**\\\\x"}', ["a**\\x", "a**\\xy"], ["a*"], id="prefix-stars-literal"
        ),
        pytest.param('{"suffix":["\\\\q"]}', ["x\\q"], ["q"], id="suffix-backslash-literal"),
    ],
)
def test_anything_but_excludes_exactly_what_it_names(
    operand: str, excluded: list[Any], passes: list[Any]
) -> None:
    pattern = compile_pattern('{"a":[{"anything-but":' + operand + "}]}")
    for value in excluded:
        assert not pattern.matches({"a": value}), value
    for value in passes:
        assert pattern.matches({"a": value}), value


NINE = "*/*/*/*/*"  # complexity 9, one below the limit
ONE = "*"  # complexity 1


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param({"a": [{"wildcard": NINE}]}, id="nine"),
        pytest.param({"a": [{"wildcard": NINE}, {"wildcard": NINE}]}, id="same-text-counts-once"),
        pytest.param({"a": [{"wildcard": NINE}], "b": [{"wildcard": ONE}]}, id="per-field"),
        pytest.param(
            {"$or": [{"a": [{"wildcard": NINE}]}, {"a": [{"wildcard": NINE}]}]},
            id="same-text-in-two-or-members",
        ),
        pytest.param({"a": [{"wildcard": NINE}, {"prefix": "x"}]}, id="other-operators-free"),
        pytest.param(
            {"a": [{"wildcard": NINE}, {"anything-but": {"prefix": "*"}}]},
            id="anything-but-prefix-free",
        ),
    ],
)
def test_wildcards_below_the_complexity_limit_are_accepted(pattern: Any) -> None:
    compile_pattern(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param({"a": [{"wildcard": NINE}, {"wildcard": ONE}]}, id="sum-reaches-ten"),
        pytest.param(
            {"a": [{"wildcard": NINE}, {"anything-but": {"wildcard": ONE}}]},
            id="anything-but-wildcard-counts",
        ),
        pytest.param({"a": [{"anything-but": {"wildcard": [NINE, ONE]}}]}, id="ab-list"),
        pytest.param(
            {"$or": [{"a": [{"wildcard": NINE}]}, {"a": [{"wildcard": ONE}]}]},
            id="summed-over-or-members",
        ),
        pytest.param({"a": [{"wildcard": "*:*:*:*:*:event-bus/*"}]}, id="ten-alone"),
    ],
)
def test_wildcards_reaching_the_complexity_limit_are_refused(pattern: Any) -> None:
    assert reason_for(pattern) == TOO_COMPLEX


def test_values_of_every_kind_are_exact_matches() -> None:
    pattern = compile_pattern('{"a": ["x", 1.5, true, false, null, "10.0.0.1"]}')
    for value in ["x", 1.5, True, False, None, "10.0.0.1"]:
        assert pattern.matches({"a": value}), value
    for value in ["y", 1.50001, "true", 0, "null", "10.0.0.2"]:
        assert not pattern.matches({"a": value}), value


def test_a_pattern_given_as_a_dict_keeps_numbers_and_refuses_what_json_cannot_hold() -> None:
    assert matches({"a": [5, 1.5, -0.25]}, {"a": -0.25})
    assert matches({"a": [{"numeric": [">", 1, "<", 2]}]}, {"a": 1.5})
    assert matches({"a": ("x", "y")}, {"a": "y"})  # a tuple reads as an array
    assert reason_for({"a": [("x",)]}) == "Match value must be String, number, true, false, or null"
    with pytest.raises(InvalidEventPattern) as raised:
        compile_pattern({"a": [float("inf")]})
    assert raised.value.reason == (
        "Non-standard token 'inf': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"
    )
    with pytest.raises(TypeError, match="JSON values only, not set"):
        compile_pattern({"a": [{1}]})
    with pytest.raises(TypeError, match="JSON text or a mapping, not int"):
        compile_pattern(5)  # type: ignore[arg-type]


def test_pattern_bytes_that_are_not_utf8_are_refused_with_the_byte() -> None:
    assert reason_for(b'{"a": ["\xff"]}') == "Invalid UTF-8 start byte 0xff"
