"""Each operator, table-driven from SPEC.md §3, beyond what the AWS vectors cover."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import envelope, matches

CASES: list[Any] = [
    # §3.1 exact values
    pytest.param({"v": ["abc"]}, "abc", True, id="exact-string-equal"),
    pytest.param({"v": ["abc"]}, "ABC", False, id="exact-string-is-case-sensitive"),
    pytest.param({"v": [""]}, "", True, id="exact-empty-string"),
    pytest.param({"v": [""]}, None, False, id="exact-empty-string-is-not-null"),
    pytest.param({"v": [None]}, None, True, id="exact-null"),
    pytest.param({"v": [None]}, "null", False, id="exact-null-is-not-string-null"),
    pytest.param({"v": [None]}, [None], True, id="exact-null-in-array"),
    pytest.param({"v": [None]}, [], False, id="exact-null-is-not-empty-array"),
    pytest.param({"v": [True]}, True, True, id="exact-true"),
    pytest.param({"v": [True]}, "true", False, id="exact-true-is-not-string"),
    pytest.param({"v": [True]}, 1, False, id="exact-true-is-not-one"),
    pytest.param({"v": [1]}, True, False, id="exact-one-is-not-true"),
    pytest.param({"v": [0]}, False, False, id="exact-zero-is-not-false"),
    pytest.param({"v": [300]}, 300.0, True, id="exact-number-by-value"),
    pytest.param({"v": [300]}, "300", False, id="exact-number-is-not-string"),
    pytest.param({"v": ["300"]}, 300, False, id="exact-string-is-not-number"),
    pytest.param({"v": [300]}, 300.0000000000001, False, id="exact-number-nearby-differs"),
    pytest.param({"v": ["\u00e9"]}, "é", True, id="exact-string-after-unescaping"),
    pytest.param({"v": ["*"]}, "anything", False, id="exact-star-is-literal"),
    # §3.2 prefix / suffix
    pytest.param({"v": [{"prefix": "ab"}]}, "abc", True, id="prefix-match"),
    pytest.param({"v": [{"prefix": "ab"}]}, "xab", False, id="prefix-elsewhere"),
    pytest.param({"v": [{"prefix": ""}]}, "", True, id="prefix-empty-matches-empty"),
    pytest.param({"v": [{"prefix": "1"}]}, 123, False, id="prefix-never-matches-number"),
    pytest.param({"v": [{"prefix": ""}]}, None, False, id="prefix-never-matches-null"),
    pytest.param({"v": [{"suffix": ".png"}]}, "a.png", True, id="suffix-match"),
    pytest.param({"v": [{"suffix": ".png"}]}, "a.PNG", False, id="suffix-case-sensitive"),
    pytest.param({"v": [{"suffix": ""}]}, "x", True, id="suffix-empty-matches-all"),
    pytest.param(
        {"v": [{"prefix": {"equals-ignore-case": "EventB"}}]}, "eventbridge", True, id="prefix-eic"
    ),
    pytest.param(
        {"v": [{"suffix": {"equals-ignore-case": ".PNG"}}]}, "A.png", True, id="suffix-eic"
    ),
    pytest.param(
        {"v": [{"suffix": {"equals-ignore-case": "é"}}]}, "CAFÉ", True, id="suffix-eic-non-ascii"
    ),
    # §3.3 equals-ignore-case folding
    pytest.param({"v": [{"equals-ignore-case": "ÄÖÜ"}]}, "äöü", True, id="eic-umlauts"),
    pytest.param({"v": [{"equals-ignore-case": "ß"}]}, "SS", True, id="eic-sharp-s-to-SS"),
    pytest.param({"v": [{"equals-ignore-case": "SS"}]}, "ß", False, id="eic-SS-not-to-sharp-s"),
    pytest.param({"v": [{"equals-ignore-case": "ı"}]}, "I", True, id="eic-dotless-i-to-I"),
    pytest.param({"v": [{"equals-ignore-case": "I"}]}, "ı", False, id="eic-I-not-to-dotless-i"),
    pytest.param({"v": [{"equals-ignore-case": "ς"}]}, "σ", False, id="eic-final-sigma"),
    pytest.param({"v": [{"equals-ignore-case": "ǅ"}]}, "ǅ", False, id="eic-titlecase-not-itself"),
    pytest.param({"v": [{"equals-ignore-case": "k"}]}, "\u212a", False, id="eic-kelvin-sign"),
    pytest.param({"v": [{"equals-ignore-case": ""}]}, "", True, id="eic-empty-matches-empty"),
    pytest.param({"v": [{"equals-ignore-case": "1"}]}, 1, False, id="eic-never-matches-number"),
    # §3.4 wildcard
    pytest.param({"v": [{"wildcard": "*"}]}, "", True, id="wildcard-star-matches-empty"),
    pytest.param({"v": [{"wildcard": "a*"}]}, "a", True, id="wildcard-star-may-be-empty"),
    pytest.param({"v": [{"wildcard": "/U/*/d"}]}, "/U/x/y/d", True, id="wildcard-crosses-slash"),
    pytest.param({"v": [{"wildcard": "ab"}]}, "ab", True, id="wildcard-without-star-is-exact"),
    pytest.param({"v": [{"wildcard": ""}]}, "x", False, id="wildcard-empty-only-empty"),
    pytest.param({"v": [{"wildcard": "a\\*"}]}, "a*", True, id="wildcard-escaped-star-literal"),
    pytest.param({"v": [{"wildcard": "a\\*"}]}, "ab", False, id="wildcard-escaped-star-not-glob"),
    pytest.param({"v": [{"wildcard": "a\\\\*"}]}, "a\\bc", True, id="wildcard-escaped-backslash"),
    pytest.param({"v": [{"wildcard": "1*"}]}, 12, False, id="wildcard-never-matches-number"),
    pytest.param({"v": [{"wildcard": "a\nb*"}]}, "a\nbc", True, id="wildcard-spans-newlines"),
    # §3.5 anything-but
    pytest.param({"v": [{"anything-but": "x"}]}, "y", True, id="ab-string-other"),
    pytest.param({"v": [{"anything-but": "x"}]}, "x", False, id="ab-string-same"),
    pytest.param({"v": [{"anything-but": "x"}]}, 5, True, id="ab-string-passes-number"),
    pytest.param({"v": [{"anything-but": "x"}]}, True, True, id="ab-string-passes-boolean"),
    pytest.param({"v": [{"anything-but": "x"}]}, None, True, id="ab-null-passes"),
    pytest.param({"v": [{"anything-but": 5}]}, 5.0, False, id="ab-number-by-value"),
    pytest.param({"v": [{"anything-but": 5}]}, "5", True, id="ab-number-passes-string"),
    pytest.param({"v": [{"anything-but": [100, 200]}]}, 1e2, False, id="ab-number-list"),
    pytest.param({"v": [{"anything-but": "101"}]}, 101, True, id="ab-string-101-passes-101"),
    pytest.param({"v": [{"anything-but": "x"}]}, ["x", "y"], True, id="ab-array-some-not-excluded"),
    pytest.param({"v": [{"anything-but": "x"}]}, ["x"], False, id="ab-array-all-excluded"),
    pytest.param({"v": [{"anything-but": "x"}]}, [], False, id="ab-empty-array-no-leaf"),
    pytest.param({"v": [{"anything-but": "x"}]}, {"a": 1}, False, id="ab-object-no-leaf"),
    pytest.param(
        {"v": [{"anything-but": "a"}, {"anything-but": "b"}]}, "a", True, id="ab-two-are-or-ed"
    ),
    pytest.param({"v": [{"anything-but": {"prefix": "in"}}]}, "init", False, id="ab-prefix"),
    pytest.param({"v": [{"anything-but": {"prefix": "in"}}]}, 1, True, id="ab-prefix-number"),
    pytest.param({"v": [{"anything-but": {"suffix": ".t"}}]}, "a.t", False, id="ab-suffix"),
    pytest.param(
        {"v": [{"anything-but": {"equals-ignore-case": ["A", "b"]}}]}, "B", False, id="ab-eic"
    ),
    pytest.param({"v": [{"anything-but": {"wildcard": ""}}]}, "x", True, id="ab-wildcard-empty"),
    pytest.param({"v": [{"anything-but": {"wildcard": "*"}}]}, "", False, id="ab-wildcard-star"),
    # §3.6 numeric
    pytest.param({"v": [{"numeric": [">", 100]}]}, 101.0, True, id="numeric-greater"),
    pytest.param({"v": [{"numeric": [">", 100]}]}, 100, False, id="numeric-greater-strict"),
    pytest.param({"v": [{"numeric": [">=", 100]}]}, 100, True, id="numeric-greater-or-equal"),
    pytest.param({"v": [{"numeric": ["<", 0]}]}, -0.5, True, id="numeric-less"),
    pytest.param({"v": [{"numeric": ["=", 301.8]}]}, 301.8, True, id="numeric-equal"),
    pytest.param({"v": [{"numeric": [">", 0, "<=", 5]}]}, 5, True, id="numeric-range-closed-top"),
    pytest.param({"v": [{"numeric": [">", 0, "<", 5]}]}, 5, False, id="numeric-range-open-top"),
    pytest.param({"v": [{"numeric": [">", 100]}]}, "300", False, id="numeric-string-never"),
    pytest.param({"v": [{"numeric": [">", 0]}]}, True, False, id="numeric-boolean-never"),
    pytest.param({"v": [{"numeric": [">", 0]}]}, None, False, id="numeric-null-never"),
    pytest.param({"v": [{"numeric": [">", 1e308]}]}, 1.7e308, True, id="numeric-full-double"),
    pytest.param(
        {"v": [{"numeric": ["<", 1.0000002]}]}, 1.0000001, True, id="numeric-fine-precision"
    ),
    pytest.param({"v": [{"numeric": [">", 1]}]}, [0, 2], True, id="numeric-any-element"),
    # §3.7 exists
    pytest.param({"v": [{"exists": True}]}, None, True, id="exists-null-is-a-leaf"),
    pytest.param({"v": [{"exists": True}]}, [], False, id="exists-empty-array-no-leaf"),
    pytest.param({"v": [{"exists": True}]}, {}, False, id="exists-empty-object-no-leaf"),
    pytest.param({"v": [{"exists": True}]}, {"a": 1}, False, id="exists-object-no-leaf"),
    pytest.param({"v": [{"exists": False}]}, {"a": 1}, True, id="exists-false-on-object"),
    pytest.param({"v": [{"exists": False}]}, [], True, id="exists-false-on-empty-array"),
    pytest.param({"v": [{"exists": False}]}, None, False, id="exists-false-on-null"),
    pytest.param(
        {"v": [{"anything-but": ["r"]}, {"exists": False}]}, "r", False, id="exists-false-or-ab"
    ),
    # §3.8 cidr
    pytest.param({"v": [{"cidr": "10.0.0.5/24"}]}, "10.0.0.255", True, id="cidr-host-bits-ignored"),
    pytest.param({"v": [{"cidr": "10.0.0.0/24"}]}, "10.0.1.0", False, id="cidr-outside"),
    pytest.param({"v": [{"cidr": "0.0.0.0/0"}]}, "255.1.2.3", True, id="cidr-slash-zero"),
    pytest.param({"v": [{"cidr": "10.0.0.0/8"}]}, "10.0.0.256", False, id="cidr-bad-octet"),
    pytest.param({"v": [{"cidr": "10.0.0.0/8"}]}, 10, False, id="cidr-number-never"),
    pytest.param({"v": [{"cidr": "10.0.0.0/8"}]}, "::ffff:10.0.0.1", False, id="cidr-dotted-v6"),
    pytest.param(
        {"v": [{"cidr": "2001:db8::/32"}]}, "2001:0DB8:0:0:0:0:0:1", True, id="cidr-v6-any-notation"
    ),
    pytest.param({"v": [{"cidr": "2001:db8::/32"}]}, "10.0.0.1", False, id="cidr-families-apart"),
    pytest.param({"v": [{"cidr": "10.0.0.0/8"}]}, "10.1.2.3%eth0", False, id="cidr-zone-not-ip"),
    # undocumented exactly
    pytest.param({"v": [{"exactly": "10.0.0.1"}]}, "10.0.0.1", True, id="exactly-string"),
]


@pytest.mark.parametrize(("pattern", "value", "expected"), CASES)
def test_operator_decides_like_eventbridge(pattern: Any, value: Any, expected: bool) -> None:
    event = envelope(v=value)
    assert matches({"detail": pattern}, event) is expected


def test_missing_key_never_satisfies_anything_but() -> None:
    assert not matches({"detail": {"v": [{"anything-but": "x"}]}}, envelope())


def test_exists_false_matches_when_a_whole_parent_is_missing() -> None:
    assert matches({"detail": {"a": {"b": [{"exists": False}]}}}, envelope())


def test_exists_false_alone_matches_a_path_no_event_has() -> None:
    assert matches({"nonesuch": [{"exists": False}]}, envelope())
    assert not matches({"nonesuch": ["x"]}, envelope())
