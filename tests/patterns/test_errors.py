"""Invalid patterns: AWS's message, word for word, for the first fault in document order."""

from __future__ import annotations

import pytest

from pizzabus.errors import PizzabusError
from pizzabus.patterns import InvalidEventPattern, compile_pattern

TOO_COMPLEX = (
    "Rule is too complex - try using fewer wildcard characters or fewer repeating character "
    "sequences after a wildcard character"
)
UNRECOGNIZED_TRU = (
    "Unrecognized token 'tru': was expecting "
    "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
)
MIXED = (
    "Inside anything but list, either all values are number or string, mixed type is not supported"
)
NAN = "Non-standard token 'NaN': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"

ERRORS = [
    # §1 structure
    pytest.param("[1]", "Filter is not an object", id="top-level-array"),
    pytest.param("null", "Filter is not an object", id="top-level-null"),
    pytest.param("", "Filter is not an object", id="empty-text"),
    pytest.param("{}", "Empty objects are not allowed", id="empty-pattern"),
    pytest.param('{"a":{}}', "Empty objects are not allowed", id="empty-nested-object"),
    pytest.param('{"a":[]}', "Empty arrays are not allowed", id="empty-matcher-list"),
    pytest.param('{"a":null}', '"a" must be an object or an array', id="null-member"),
    pytest.param(
        '{"a":[["x"]]}',
        "Match value must be String, number, true, false, or null",
        id="nested-array",
    ),
    pytest.param('{"a":[{}]}', "Match expression name not found", id="empty-matcher"),
    pytest.param(
        '{"a":[{"prefix":"x","suffix":"y"}]}',
        "Only one key allowed in match expression",
        id="two-keys",
    ),
    pytest.param(
        '{"a":[{"NUMERIC":[">",1]}]}', "Unrecognized match type NUMERIC", id="operator-case"
    ),
    pytest.param(
        '{"a":[{"exactly":1}]}', "exact match pattern must be a string", id="exactly-number"
    ),
    # §3.2 prefix/suffix
    pytest.param(
        '{"a":[{"prefix":{}}]}', "Prefix expression name not found", id="prefix-empty-object"
    ),
    pytest.param(
        '{"a":[{"prefix":{"wildcard":"x"}}]}',
        "Unsupported prefix pattern: wildcard",
        id="prefix-other-nested",
    ),
    pytest.param(
        '{"a":[{"suffix":{"x":"y"}}]}', "Unsupported suffix pattern: x", id="suffix-other-nested"
    ),
    pytest.param(
        '{"a":[{"prefix":{"equals-ignore-case":1}}]}',
        "equals-ignore-case match pattern must be a string",
        id="prefix-eic-number",
    ),
    # §3.4 wildcard
    pytest.param(
        '{"a":[{"wildcard":"a**"}]}',
        "Consecutive wildcard characters at pos 2",
        id="wildcard-double-star",
    ),
    pytest.param(
        '{"a":[{"wildcard":"é**"}]}',
        "Consecutive wildcard characters at pos 3",
        id="wildcard-pos-counts-utf8-bytes",
    ),
    pytest.param(
        '{"a":[{"wildcard":"ab\\\\x"}]}',
        "Invalid escape character at pos 3",
        id="wildcard-bad-escape",
    ),
    pytest.param(
        '{"a":[{"wildcard":"ab\\\\"}]}',
        "Invalid escape character at pos 3",
        id="wildcard-trailing-backslash",
    ),
    pytest.param(
        '{"a":[{"wildcard":"*/*/*/*/*/*"}]}',
        TOO_COMPLEX,
        id="wildcard-too-complex",
    ),
    pytest.param(
        '{"a":[{"wildcard":"*:stack/a/*"},{"wildcard":"*:stack/b/*"},{"wildcard":"*:stack/c/*"},{"wildcard":"*:stack/d/*"}]}',
        TOO_COMPLEX,
        id="wildcard-complexity-adds-up",
    ),
    # §3.5 anything-but
    pytest.param(
        '{"a":[{"anything-but":true}]}',
        "Value of anything-but must be an array or single string/number value.",
        id="ab-boolean",
    ),
    pytest.param(
        '{"a":[{"anything-but":{}}]}',
        "Anything-But expression name not found",
        id="ab-empty-object",
    ),
    pytest.param(
        '{"a":[{"anything-but":["a",1]}]}',
        MIXED,
        id="ab-mixed-list",
    ),
    pytest.param(
        '{"a":[{"anything-but":[]}]}',
        MIXED,
        id="ab-empty-list",
    ),
    pytest.param(
        '{"a":[{"anything-but":[true]}]}',
        "Inside anything but list, start|null|boolean is not supported.",
        id="ab-boolean-in-list",
    ),
    pytest.param(
        '{"a":[{"anything-but":{"numeric":[1]}}]}',
        "Unsupported anything-but pattern: numeric",
        id="ab-other-nested",
    ),
    pytest.param(
        '{"a":[{"anything-but":"x","prefix":"y"}]}',
        "Too many elements in numeric expression",
        id="ab-extra-key",
    ),
    pytest.param(
        '{"a":[{"anything-but":{"prefix":[]}}]}',
        "Empty arrays are not allowed",
        id="ab-prefix-empty-list",
    ),
    pytest.param(
        '{"a":[{"anything-but":{"wildcard":"a**"}}]}',
        "Consecutive wildcard characters at pos 2",
        id="ab-wildcard-checked",
    ),
    pytest.param(
        '{"a":[{"anything-but":0.30000000000000001}]}',
        "Cannot compare number : 0.30000000000000001",
        id="ab-unrepresentable",
    ),
    # §3.6 numeric
    pytest.param(
        '{"a":[{"numeric":[]}]}', "Invalid member in numeric match: ]", id="numeric-empty"
    ),
    pytest.param(
        '{"a":[{"numeric":[5]}]}', "Invalid member in numeric match: 5", id="numeric-no-operator"
    ),
    pytest.param(
        '{"a":[{"numeric":["!",5]}]}',
        "Unrecognized numeric range operator: !",
        id="numeric-bad-operator",
    ),
    pytest.param(
        '{"a":[{"numeric":["=","5"]}]}',
        "Value of equals must be numeric",
        id="numeric-equals-string",
    ),
    pytest.param(
        '{"a":[{"numeric":[">="]}]}', "Value of >= must be numeric", id="numeric-missing-value"
    ),
    pytest.param(
        '{"a":[{"numeric":["<",5,">",1]}]}',
        "Too many elements in numeric expression",
        id="numeric-after-less",
    ),
    pytest.param(
        '{"a":[{"numeric":[">",1,5]}]}',
        "Bad value in numeric range: 5",
        id="numeric-second-not-operator",
    ),
    pytest.param(
        '{"a":[{"numeric":[">",1,"<",5,6]}]}',
        "Too many terms in numeric range expression",
        id="numeric-five-terms",
    ),
    pytest.param(
        '{"a":[{"numeric":[">=",5,"<=",5]}]}',
        "Bottom must be less than top",
        id="numeric-empty-range",
    ),
    pytest.param(
        '{"a":[{"numeric":[">",1e400]}]}', "Cannot compare number : 1e400", id="numeric-overflow"
    ),
    pytest.param(
        '{"a":[{"numeric":["=",0.30000000000000001]}]}',
        "Cannot compare number : 0.30000000000000001",
        id="numeric-unrepresentable",
    ),
    pytest.param(
        '{"a":[{"numeric":[">",1],"x":1}]}',
        "Too many elements in numeric expression",
        id="numeric-extra-key",
    ),
    # §3.7 exists
    pytest.param(
        '{"a":[{"exists":"true"}]}',
        "exists match pattern must be either true or false.",
        id="exists-string",
    ),
    # §3.8 cidr
    pytest.param(
        '{"a":[{"cidr":"10.0.0.0/8/8"}]}', "Malformed CIDR, one '/' required", id="cidr-two-slashes"
    ),
    pytest.param(
        '{"a":[{"cidr":"10.0.0.0/"}]}', "Malformed CIDR, one '/' required", id="cidr-trailing-slash"
    ),
    pytest.param(
        '{"a":[{"cidr":"10.0.0.0/-1"}]}',
        "Malformed CIDR, mask bits must not be negative",
        id="cidr-negative-mask",
    ),
    pytest.param(
        '{"a":[{"cidr":"10.0.0.0/99999999999"}]}',
        "Malformed CIDR, mask bits must be an integer",
        id="cidr-mask-overflows-int",
    ),
    pytest.param(
        '{"a":[{"cidr":"10.0.0.0/32"}]}', "IPv4 mask bits must be < 32", id="cidr-v4-slash-32"
    ),
    pytest.param(
        '{"a":[{"cidr":"::/128"}]}', "IPv6 mask bits must be < 128", id="cidr-v6-slash-128"
    ),
    pytest.param(
        '{"a":[{"cidr":"10.0.0.256/8"}]}', "Invalid IP address: 10.0.0.256", id="cidr-invalid-octet"
    ),
    pytest.param(
        '{"a":[{"cidr":"1:2:3:4:5:6:7:8:9/8"}]}',
        "Invalid IP address: 1:2:3:4:5:6:7:8:9",
        id="cidr-invalid-v6",
    ),
    # §3.9 $or
    pytest.param('{"$or":{"a":["1"]}}', "It must be an Array followed with $or.", id="or-object"),
    pytest.param(
        '{"$or":[{"a":["1"]},"b"]}',
        "Only JSON object is allowed in array of $or relationship.",
        id="or-string-member",
    ),
    pytest.param(
        '{"$or":[{"a":["1"]}]}',
        "There must have at least 2 Objects in $or relationship.",
        id="or-one-member",
    ),
    pytest.param('{"$or":[{"a":["1"]},{}]}', "Empty objects are not allowed", id="or-empty-member"),
    pytest.param(
        '{"$or":[{"a":["1"]},{"prefix":["b"]}]}',
        "prefix is Ruler reserved fieldName which cannot be used inside $or.",
        id="or-reserved-name",
    ),
    # §1 JSON syntax, in Jackson's words
    pytest.param(
        "{'a': ['x']}",
        "Unexpected character (''' (code 39)): was expecting double-quote to start field name",
        id="json-single-quotes",
    ),
    pytest.param(
        '{"a" ["x"]}',
        "Unexpected character ('[' (code 91)): "
        "was expecting a colon to separate field name and value",
        id="json-missing-colon",
    ),
    pytest.param(
        '{"a": ["x"] "b": ["y"]}',
        "Unexpected character ('\"' (code 34)): was expecting comma to separate Object entries",
        id="json-missing-comma",
    ),
    pytest.param(
        '{"a": [NaN]}',
        NAN,
        id="json-nan",
    ),
    pytest.param(
        '{"a": [tru]}',
        UNRECOGNIZED_TRU,
        id="json-bad-literal",
    ),
    pytest.param(
        '{"a": [01]}', "Invalid numeric value: Leading zeroes not allowed", id="json-leading-zero"
    ),
    pytest.param(
        '{"a": ["x"]',
        "Unexpected end-of-input: expected close marker for Object",
        id="json-unclosed",
    ),
]


@pytest.mark.parametrize(("pattern", "reason"), ERRORS)
def test_invalid_pattern_is_reported_in_aws_words(pattern: str, reason: str) -> None:
    with pytest.raises(InvalidEventPattern) as caught:
        compile_pattern(pattern)
    assert caught.value.message == f"Event pattern is not valid. Reason: {reason}"
    assert caught.value.reason == reason


FIRST_FAULT = [
    pytest.param('{"a": [], "b": 1}', "Empty arrays are not allowed", id="two-faults-first-wins"),
    pytest.param('{"b": 1, "a": []}', '"b" must be an object or an array', id="order-not-alphabet"),
    pytest.param(
        '{"a": [], "b": [tru', "Empty arrays are not allowed", id="semantic-before-syntax"
    ),
    pytest.param(
        '{"a": ["x"], "b": [tru',
        UNRECOGNIZED_TRU,
        id="syntax-after-valid-part",
    ),
    pytest.param(
        '{"a": [{"prefix": 1}], "a": ["x"]}',
        "prefix match pattern must be a string",
        id="overwritten-duplicate-still-checked",
    ),
]


@pytest.mark.parametrize(("pattern", "reason"), FIRST_FAULT)
def test_the_first_fault_in_document_order_is_the_one_reported(pattern: str, reason: str) -> None:
    with pytest.raises(
        InvalidEventPattern, match=r"^Event pattern is not valid\. Reason: "
    ) as caught:
        compile_pattern(pattern)
    assert caught.value.reason == reason


def test_invalid_pattern_error_carries_aws_code_and_status() -> None:
    with pytest.raises(InvalidEventPattern) as caught:
        compile_pattern("{}")
    assert isinstance(caught.value, PizzabusError)
    assert caught.value.code == "InvalidEventPatternException"
    assert caught.value.status == 400


def test_pattern_given_as_a_dict_is_validated_the_same_way() -> None:
    with pytest.raises(InvalidEventPattern, match="Empty arrays are not allowed"):
        compile_pattern({"source": []})
    with pytest.raises(InvalidEventPattern, match="Non-standard token"):
        compile_pattern({"a": [float("nan")]})


@pytest.mark.parametrize(
    ("escape", "decoded"),
    [
        pytest.param('\\"', '"', id="quote"),
        pytest.param("\\\\", "\\", id="backslash"),
        pytest.param("\\/", "/", id="slash"),
        pytest.param("\\b", "\b", id="backspace"),
        pytest.param("\\f", "\f", id="form-feed"),
        pytest.param("\\n", "\n", id="newline"),
        pytest.param("\\r", "\r", id="return"),
        pytest.param("\\t", "\t", id="tab"),
        pytest.param("\\u0041", "A", id="unicode-upper"),
        pytest.param("\\u00e9", "é", id="unicode-lower-hex"),
        pytest.param("\\u00E9x", "éx", id="unicode-upper-hex-then-more"),
    ],
)
def test_escapes_in_a_pattern_that_is_not_json_are_decoded_in_the_reason(
    escape: str, decoded: str
) -> None:
    """Past a syntax fault the scanner still reads the text before it, escapes and all: the
    first fault in document order is this unknown match type, named as decoded."""
    with pytest.raises(InvalidEventPattern) as raised:
        compile_pattern('{"a": [{"m' + escape + '": 1}] x')
    assert raised.value.message == (
        f"Event pattern is not valid. Reason: Unrecognized match type m{decoded}"
    )


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        pytest.param('{"a\\q": [1]}', "Unrecognized character escape 'q' (code 113)", id="bad"),
        pytest.param(
            '{"a": ["\\u00g1"]}',
            "Unexpected character ('g' (code 103)): expected a hex-digit for character escape "
            "sequence",
            id="bad-hex",
        ),
        pytest.param(
            '{"a": ["\\u00', "Unexpected end-of-input in character escape sequence", id="short-u"
        ),
        pytest.param(
            '{"a": ["x\\', "Unexpected end-of-input in character escape sequence", id="at-end"
        ),
    ],
)
def test_a_bad_escape_is_reported_in_jacksons_words(pattern: str, reason: str) -> None:
    with pytest.raises(InvalidEventPattern) as raised:
        compile_pattern(pattern)
    assert raised.value.message == f"Event pattern is not valid. Reason: {reason}"
