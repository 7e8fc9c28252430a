"""Pattern text that is not JSON: each fault kind in Jackson's words, and the parts read before it.

The standard library refuses these texts; the scanner of ``jsontext`` reads them again to word
the error as Jackson (the parser behind EventBridge) does. One case per fault kind and per
place a fault can sit (object key, colon, value, array entry, string, escape, number), so that
a change to any message or to where reading stops fails here.

AWS confirmed a few of these (the conformance vectors); the others follow Jackson 2.x's
wording as the scanner reproduces it. Four end-of-input and close-marker cases are the
scanner's own wording and may differ from Jackson's (see docs/testing.md, "Known gaps"):
``value-eof``, ``array-open-eof``, ``key-eof`` and ``unclosed-key``.
"""

from __future__ import annotations

import pytest

from pizzabus.patterns import InvalidEventPattern, compile_pattern
from pizzabus.patterns.jsontext import (
    JsonObject,
    PatternNumber,
    SyntaxFault,
    char_desc,
    loads_event,
    loads_pattern,
)

VALUES = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
NON_NUMERIC = "enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"
MINUS = "expected digit (0-9) to follow minus sign, for valid numeric value"
HEX = "expected a hex-digit for character escape sequence"
UNQUOTED = "has to be escaped using backslash to be included in string value"


def reason_for(pattern: str | bytes) -> str:
    with pytest.raises(InvalidEventPattern) as raised:
        compile_pattern(pattern)
    assert raised.value.message == f"Event pattern is not valid. Reason: {raised.value.reason}"
    return raised.value.reason


SYNTAX = [
    # tokens where a value should start
    pytest.param('{"a": [tru]}', f"Unrecognized token 'tru': was expecting {VALUES}", id="tru"),
    pytest.param('{"a": [nul]}', f"Unrecognized token 'nul': was expecting {VALUES}", id="nul"),
    pytest.param('{"a": [truE]}', f"Unrecognized token 'truE': was expecting {VALUES}", id="truE"),
    pytest.param(
        '{"a": [truex]}', f"Unrecognized token 'truex': was expecting {VALUES}", id="true-letters"
    ),
    pytest.param(
        '{"a": [true1]}', f"Unrecognized token 'true1': was expecting {VALUES}", id="true-digit"
    ),
    pytest.param(
        '{"a": [_x]}', f"Unrecognized token '_x': was expecting {VALUES}", id="underscore-start"
    ),
    pytest.param(
        '{"a": [a_1$b c]}',
        f"Unrecognized token 'a_1$b': was expecting {VALUES}",
        id="token-runs-over-letters-digits-underscore-dollar",
    ),
    pytest.param(
        '{"a": [é]}', f"Unrecognized token 'é': was expecting {VALUES}", id="non-ascii-letter"
    ),
    pytest.param(
        '{"a": [@]}',
        f"Unexpected character ('@' (code 64)): expected a valid value {VALUES}",
        id="symbol",
    ),
    pytest.param(
        '{"a": [€]}',
        f"Unexpected character ('€' (code 8364 / 0x20ac)): expected a valid value {VALUES}",
        id="symbol-beyond-latin1",
    ),
    pytest.param(
        '{"a": [1,]}',
        f"Unexpected character (']' (code 93)): expected a valid value {VALUES}",
        id="trailing-comma-in-array",
    ),
    pytest.param('{"a": [NaN]}', f"Non-standard token 'NaN': {NON_NUMERIC}", id="nan"),
    pytest.param(
        '{"a": [Infinity]}', f"Non-standard token 'Infinity': {NON_NUMERIC}", id="infinity"
    ),
    pytest.param(
        '{"a": [-Infinity]}', f"Non-standard token '-Infinity': {NON_NUMERIC}", id="-infinity"
    ),
    # objects
    pytest.param(
        "{'a': ['x']}",
        "Unexpected character (''' (code 39)): was expecting double-quote to start field name",
        id="single-quoted-key",
    ),
    pytest.param(
        """{"a":[{'prefix':"x"}]}""",
        "Unexpected character (''' (code 39)): was expecting double-quote to start field name",
        id="match-expression-name",
    ),
    pytest.param(
        """{"a":[{"prefix":"x",'y':1}]}""",
        "Unexpected character (''' (code 39)): was expecting double-quote to start field name",
        id="second-name-of-a-match-expression",
    ),
    pytest.param(
        "{,}",
        "Unexpected character (',' (code 44)): was expecting double-quote to start field name",
        id="comma-for-key",
    ),
    pytest.param(
        '{"a": {"b": ["x"],}}',
        "Unexpected character ('}' (code 125)): was expecting double-quote to start field name",
        id="trailing-comma-in-object",
    ),
    pytest.param(
        '{"a":["x"], "b" 1}',
        "Unexpected character ('1' (code 49)): "
        "was expecting a colon to separate field name and value",
        id="missing-colon",
    ),
    pytest.param(
        '{"a": [0]x}',
        "Unexpected character ('x' (code 120)): was expecting comma to separate Object entries",
        id="missing-comma-in-object",
    ),
    pytest.param(
        '{"a": [-0.5e-1] x',
        "Unexpected character ('x' (code 120)): was expecting comma to separate Object entries",
        id="missing-comma-after-a-number-array",
    ),
    pytest.param(
        '{"a":[1],"b":[tru]}',
        f"Unrecognized token 'tru': was expecting {VALUES}",
        id="right-after-a-comma",
    ),
    pytest.param("{", "Unexpected end-of-input: expected close marker for Object", id="just-{"),
    pytest.param('{"a"', "Unexpected end-of-input: expected close marker for Object", id="key-eof"),
    pytest.param(
        '{"a": ["x"]',
        "Unexpected end-of-input: expected close marker for Object",
        id="object-unclosed",
    ),
    pytest.param('{"a": ', "Unexpected end-of-input: expected a value", id="value-eof"),
    # arrays
    pytest.param(
        '{"a": ["x" "y"]}',
        "Unexpected character ('\"' (code 34)): was expecting comma to separate Array entries",
        id="missing-comma-in-array",
    ),
    pytest.param(
        '{"a": [1 2]}',
        "Unexpected character ('2' (code 50)): was expecting comma to separate Array entries",
        id="missing-comma-between-numbers",
    ),
    pytest.param(
        '{"a": [1a]}',
        "Unexpected character ('a' (code 97)): was expecting comma to separate Array entries",
        id="letter-after-number",
    ),
    pytest.param(
        '{"a":[1.5.5]}',
        "Unexpected character ('.' (code 46)): was expecting comma to separate Array entries",
        id="second-decimal-point",
    ),
    pytest.param(
        '{"a":[1e5e5]}',
        "Unexpected character ('e' (code 101)): was expecting comma to separate Array entries",
        id="second-exponent",
    ),
    pytest.param(
        '{"a": ["x"', "Unexpected end-of-input: expected close marker for Array", id="array-eof"
    ),
    pytest.param(
        '{"a": [true', "Unexpected end-of-input: expected close marker for Array", id="true-eof"
    ),
    pytest.param(
        '{"a": [false', "Unexpected end-of-input: expected close marker for Array", id="false-eof"
    ),
    pytest.param(
        '{"a": [null', "Unexpected end-of-input: expected close marker for Array", id="null-eof"
    ),
    pytest.param('{"a": [', "Unexpected end-of-input: expected a value", id="array-open-eof"),
    # strings
    pytest.param(
        '{"a',
        "Unexpected end-of-input: was expecting closing quote for a string value",
        id="unclosed-key",
    ),
    pytest.param(
        '{"a": ["x',
        "Unexpected end-of-input: was expecting closing quote for a string value",
        id="unclosed-string",
    ),
    pytest.param(
        '{"a": ["x\t"]}',
        f"Illegal unquoted character ((CTRL-CHAR, code 9)): {UNQUOTED}",
        id="raw-tab-in-string",
    ),
    pytest.param(
        '{"a": ["x\x1f"]}',
        f"Illegal unquoted character ((CTRL-CHAR, code 31)): {UNQUOTED}",
        id="raw-unit-separator-in-string",
    ),
    pytest.param(
        '{"a\n": ["x"]}',
        f"Illegal unquoted character ((CTRL-CHAR, code 10)): {UNQUOTED}",
        id="raw-newline-in-key",
    ),
    # escapes
    pytest.param(
        '{"a": ["\\q"]}', "Unrecognized character escape 'q' (code 113)", id="unknown-escape"
    ),
    pytest.param(
        '{"a": ["\\U0041"]}',
        "Unrecognized character escape 'U' (code 85)",
        id="capital-u-escape",
    ),
    pytest.param(
        '{"a": ["\\uZZZZ"]}', f"Unexpected character ('Z' (code 90)): {HEX}", id="u-no-hex"
    ),
    pytest.param(
        '{"a": ["\\uABCG"]}', f"Unexpected character ('G' (code 71)): {HEX}", id="u-fourth-bad"
    ),
    pytest.param('{"a": ["\\u"]}', f"Unexpected character ('\"' (code 34)): {HEX}", id="u-quote"),
    pytest.param(
        '{"a": ["\\u123', "Unexpected end-of-input in character escape sequence", id="u-eof"
    ),
    pytest.param(
        '{"a": ["\\uX041"]}', f"Unexpected character ('X' (code 88)): {HEX}", id="u-capital-x"
    ),
    pytest.param(
        '{"a": ["\\uaZ00"]}',
        f"Unexpected character ('Z' (code 90)): {HEX}",
        id="u-lower-hex-then-bad",
    ),
    pytest.param(
        '{"a": ["x\\n',
        "Unexpected end-of-input: was expecting closing quote for a string value",
        id="escape-then-eof",
    ),
    # numbers
    pytest.param(
        '{"a": [0', "Unexpected end-of-input: expected close marker for Array", id="zero-at-end"
    ),
    pytest.param(
        '{"a": [00', "Invalid numeric value: Leading zeroes not allowed", id="zeros-at-end"
    ),
    pytest.param(
        '{"a": [1X]}',
        "Unexpected character ('X' (code 88)): was expecting comma to separate Array entries",
        id="letter-x-after-number",
    ),
    pytest.param(
        '{"a": [1eX]}',
        "Unexpected character ('X' (code 88)) in numeric value: "
        "Exponent indicator not followed by a digit",
        id="letter-x-after-exponent",
    ),
    pytest.param(
        '{"a": [00]}', "Invalid numeric value: Leading zeroes not allowed", id="leading-zero"
    ),
    pytest.param(
        '{"a": [-01]}',
        "Invalid numeric value: Leading zeroes not allowed",
        id="negative-leading-zero",
    ),
    pytest.param(
        '{"a": [-]}', f"Unexpected character (']' (code 93)) in numeric value: {MINUS}", id="-"
    ),
    pytest.param(
        '{"a": [-x]}', f"Unexpected character ('x' (code 120)) in numeric value: {MINUS}", id="-x"
    ),
    pytest.param('{"a": [-', f"Unexpected character (EOF) in numeric value: {MINUS}", id="-eof"),
    pytest.param(
        '{"a": [1.]}',
        "Unexpected character (']' (code 93)) in numeric value: "
        "Decimal point not followed by a digit",
        id="1.",
    ),
    pytest.param(
        '{"a": [1.x]}',
        "Unexpected character ('x' (code 120)) in numeric value: "
        "Decimal point not followed by a digit",
        id="1.x",
    ),
    pytest.param(
        '{"a": [1.',
        "Unexpected end-of-input in numeric value: Decimal point not followed by a digit",
        id="1.eof",
    ),
    pytest.param(
        '{"a": [1e]}',
        "Unexpected character (']' (code 93)) in numeric value: "
        "Exponent indicator not followed by a digit",
        id="1e",
    ),
    pytest.param(
        '{"a": [1e+]}',
        "Unexpected character (']' (code 93)) in numeric value: "
        "Exponent indicator not followed by a digit",
        id="1e+",
    ),
    pytest.param(
        '{"a": [1E-x]}',
        "Unexpected character ('x' (code 120)) in numeric value: "
        "Exponent indicator not followed by a digit",
        id="1E-x",
    ),
    pytest.param(
        '{"a": [1e',
        "Unexpected end-of-input in numeric value: Exponent indicator not followed by a digit",
        id="1e-eof",
    ),
    # after the pattern
    pytest.param('{"a": [1]} x', f"Unrecognized token 'x': was expecting {VALUES}", id="after-x"),
    pytest.param(
        '{"a": [1]} 1',
        f"Unexpected character ('1' (code 49)): expected a valid value {VALUES}",
        id="after-number",
    ),
    pytest.param(
        '{"a": [1]} ]',
        f"Unexpected character (']' (code 93)): expected a valid value {VALUES}",
        id="after-bracket",
    ),
    # not an object at all
    pytest.param(
        "this is not json", f"Unrecognized token 'this': was expecting {VALUES}", id="text"
    ),
    pytest.param(" \t\r\n", "Filter is not an object", id="only-whitespace"),
    pytest.param("[", "Filter is not an object", id="open-array"),
]


@pytest.mark.parametrize(("pattern", "reason"), SYNTAX)
def test_each_syntax_fault_is_worded_as_jackson_words_it(pattern: str, reason: str) -> None:
    assert reason_for(pattern) == reason


def test_every_json_whitespace_is_skipped_before_the_fault() -> None:
    assert reason_for('{\t"a"\n:\r[ tru]}') == f"Unrecognized token 'tru': was expecting {VALUES}"


def test_whitespace_is_skipped_everywhere_in_text_that_is_not_json() -> None:
    """Every place the scanner skips blanks, with each kind of blank; the fault comes last."""
    text = '{ \t\n\r"a" \t\n\r: \t\n\r[ \t\n\r"x" \t\n\r, \t\n\r1 \t\n\r] \t\n\r, \r\n\t"b":[] } x'
    assert reason_for(text) == "Empty arrays are not allowed"
    assert reason_for(text.replace('"b":[]', '"b":["y"]')) == (
        f"Unrecognized token 'x': was expecting {VALUES}"
    )


def test_a_utf8_byte_order_mark_is_dropped_from_bytes() -> None:
    assert compile_pattern(b'\xef\xbb\xbf{"a": ["x"]}').matches({"a": "x"})
    assert reason_for(b'\xef\xbb\xbf{"a": [tru]}') == (
        f"Unrecognized token 'tru': was expecting {VALUES}"
    )


def test_nesting_too_deep_to_read_is_a_fault_not_a_crash() -> None:
    assert reason_for('{"a":' * 100_000) == "Maximum nesting depth exceeded"


@pytest.mark.parametrize(
    ("char", "desc"),
    [
        pytest.param("\x00", "(CTRL-CHAR, code 0)", id="nul"),
        pytest.param("\x1f", "(CTRL-CHAR, code 31)", id="last-control"),
        pytest.param(" ", "' ' (code 32)", id="space"),
        pytest.param("\xff", "'\xff' (code 255)", id="last-latin1"),
        pytest.param("\u0100", "'\u0100' (code 256 / 0x100)", id="first-beyond-latin1"),
    ],
)
def test_characters_are_named_as_jackson_names_them(char: str, desc: str) -> None:
    assert char_desc(char) == desc


def test_the_part_read_before_a_fault_is_kept_with_the_fault_where_reading_stopped() -> None:
    tree, fault = loads_pattern('{"a": ["x", 1.5, true, false, null, {"b": []}], "c": [tru')
    assert fault == SyntaxFault(f"Unrecognized token 'tru': was expecting {VALUES}")
    assert tree == JsonObject(
        [
            ("a", ["x", PatternNumber("1.5"), True, False, None, JsonObject([("b", [])])]),
            ("c", [fault]),
        ]
    )


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        pytest.param('{"a" 1}', JsonObject([("a", "fault")]), id="colon-after-the-name"),
        pytest.param('{"a": 1 "b"}', JsonObject([("a", PatternNumber("1")), ("fault", None)])),
        pytest.param('{"a": [1 2]}', JsonObject([("a", [PatternNumber("1"), "fault"])])),
        pytest.param('{"a": "x', JsonObject([("a", "fault")]), id="in-a-value-string"),
        pytest.param('{"a', JsonObject([("fault", None)]), id="in-a-key"),
        pytest.param("{'a'}", JsonObject([("fault", None)]), id="instead-of-a-key"),
        pytest.param('{"a": {} x', JsonObject([("a", JsonObject()), ("fault", None)])),
        pytest.param("tru", "fault", id="top-level"),
    ],
)
def test_a_fault_sits_where_the_streaming_parser_would_meet_it(text: str, tree: object) -> None:
    """The compiler reports whichever fault comes first in document order, so the scanner must
    leave its fault exactly where a streaming parser would have met it."""
    found, fault = loads_pattern(text)
    assert fault is not None

    def mark(node: object) -> object:
        if node is fault:
            return "fault"
        if isinstance(node, JsonObject):
            return JsonObject((mark(key), mark(value)) for key, value in node)
        if isinstance(node, list):
            return [mark(item) for item in node]
        return node

    assert mark(found) == tree


def test_escapes_and_numbers_before_a_fault_are_read_in_full() -> None:
    tree, fault = loads_pattern('["a b\\tb\\u0041c\\"", 19, 9.9e9, -0.5E+1] x')
    assert tree == [
        'a b\tbAc"',
        PatternNumber("19"),
        PatternNumber("9.9e9"),
        PatternNumber("-0.5E+1"),
    ]
    assert fault == SyntaxFault(f"Unrecognized token 'x': was expecting {VALUES}")


def test_reading_goes_on_right_after_an_empty_object() -> None:
    """(The compiler would stop at the empty object first: the fault is checked here.)"""
    assert loads_pattern('{"a": {}x}')[1] == SyntaxFault(
        "Unexpected character ('x' (code 120)): was expecting comma to separate Object entries"
    )


def test_valid_text_has_no_fault_and_keeps_numbers_as_written() -> None:
    assert loads_pattern('{"a": [1.50, -0, 1E3]}') == (
        JsonObject([("a", [PatternNumber("1.50"), PatternNumber("-0"), PatternNumber("1E3")])]),
        None,
    )
    assert loads_pattern("  ") == (None, None)


def test_events_refuse_non_numeric_numbers() -> None:
    for constant in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(ValueError, match=constant):
            loads_event('{"a": ' + constant + "}")
    assert loads_event('{"a": 1, "a": 2}') == JsonObject([("a", 1.0), ("a", 2.0)])
