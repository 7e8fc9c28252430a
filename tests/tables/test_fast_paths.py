"""The shortcuts of the table path answer exactly what the general path answers: item
normalization, the DynamoDB JSON codec, binding placeholders again, parameter validation."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ParamValidationError
from hypothesis import given
from hypothesis import strategies as st

from pizzabus.sdk import dynamodb_params
from pizzabus.tables import TableValidationError, codec
from pizzabus.tables.expressions import (
    CONDITION,
    KEY_CONDITION,
    bind,
    checks_of,
    parse_optional,
    rebind,
    values_of,
)
from pizzabus.tables.values import _normalize, _number_size, canonical_number, normalize_item

numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.decimals(allow_nan=False, allow_infinity=False, places=None),
    st.sampled_from(
        [Decimal("-0"), Decimal("0E-5"), Decimal("1E+2"), Decimal("1.50"), Decimal("-0.0")]
    ),
)


def outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except (TypeError, TableValidationError) as error:
        return type(error).__name__, str(error)


def canonical_and_size(number: Any) -> tuple[Decimal, int]:
    canonical = canonical_number(number)
    return canonical, _number_size(canonical)


@given(numbers)
def test_a_number_is_normalized_and_sized_as_the_general_path_does(number: Any) -> None:
    expected = outcome(lambda: canonical_and_size(number))
    in_item = outcome(lambda: normalize_item({"n": number}))
    alone = outcome(lambda: _normalize(number, 1))

    if expected[0] != "ok":
        assert in_item == alone == expected
        return
    canonical, size = expected[1]
    (item, item_size), (value, value_size) = in_item[1], alone[1]
    assert str(item["n"]) == str(value) == str(canonical)  # the same digits, not only equal
    assert (item_size, value_size) == (1 + size, size)


@given(st.text())
def test_a_string_is_sized_by_its_utf8_bytes(text: str) -> None:
    fast = outcome(lambda: normalize_item({"s": text}))
    general = outcome(lambda: _normalize(text, 1))

    if general[0] == "ok":
        assert fast == ("ok", ({"s": text}, 1 + general[1][1]))
    else:
        assert fast == general


def test_an_item_is_a_fresh_dict_even_when_nothing_in_it_changes() -> None:
    item = {"a": "x", "n": Decimal(5)}
    normalized, _ = normalize_item(item)

    assert normalized == item
    assert normalized is not item


values = st.recursive(
    st.one_of(
        st.text(),
        st.integers(min_value=-(10**30), max_value=10**30).map(Decimal),
        st.binary(),
        st.booleans(),
        st.none(),
        st.frozensets(st.text(), min_size=1).map(set),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(st.dictionaries(st.text(), values, max_size=6))
def test_the_codec_writes_what_json_writes_and_reads_it_back(item: dict[str, Any]) -> None:
    reference = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode(
        {name: codec._tag(value) for name, value in item.items()}
    )

    assert codec.dumps(item) == reference
    assert codec.loads(codec.dumps(item)) == item


KEY = parse_optional(KEY_CONDITION, "#k = :k AND s BETWEEN :low AND :high")
CONDITION_ = parse_optional(CONDITION, "attribute_not_exists(#k) OR v < :v")


@pytest.mark.parametrize(
    "given_values",
    [
        pytest.param({":k": "a", ":low": 1, ":high": 2, ":v": 3}, id="first"),
        pytest.param({":k": "b", ":low": 5, ":high": 9, ":v": 0}, id="other-values"),
    ],
)
def test_binding_again_gives_what_bind_gives(given_values: dict[str, Any]) -> None:
    names = {"#k": "key"}
    expressions = (KEY, None, CONDITION_)
    again = rebind(names, given_values, values_of(*expressions), checks_of(*expressions))

    assert again == bind(names, given_values, *expressions)


@pytest.mark.parametrize(
    "given_values",
    [
        pytest.param({":k": "a", ":low": 1, ":high": 2}, id="one-missing"),
        pytest.param({":k": "a", ":low": 1, ":high": 2, ":v": 3, ":x": 4}, id="one-unused"),
        pytest.param({}, id="empty"),
        pytest.param(None, id="none"),
    ],
)
def test_binding_again_leaves_placeholder_mistakes_to_bind(
    given_values: dict[str, Any] | None,
) -> None:
    expressions = (KEY, CONDITION_)

    assert (
        rebind({"#k": "key"}, given_values, values_of(*expressions), checks_of(*expressions))
        is None
    )
    with pytest.raises(TableValidationError):
        bind({"#k": "key"}, given_values, *expressions)


def test_binding_again_checks_the_values() -> None:
    expressions = (KEY,)
    with pytest.raises(TableValidationError, match="BETWEEN operator requires upper bound"):
        rebind(
            {"#k": "key"},
            {":k": "a", ":low": 2, ":high": 1},
            values_of(*expressions),
            checks_of(*expressions),
        )


PARAMETERS = [
    pytest.param("Query", {"IndexName": "by_author", "Limit": 5}, id="fine"),
    pytest.param("Query", {"IndexName": "ab"}, id="index-name-too-short"),
    pytest.param("Query", {"TableName": ""}, id="empty-table-name"),
    pytest.param("Query", {"Limit": 0}, id="limit-0"),
    pytest.param("Query", {"Limit": True}, id="limit-bool"),
    pytest.param("Scan", {"Segment": -1, "TotalSegments": 0}, id="segments"),
    pytest.param("PutItem", {"Item": {}, "ExpressionAttributeNames": {"#a": 1}}, id="name-int"),
    pytest.param("PutItem", {"Item": {}, "ExpressionAttributeNames": {"#a": "a"}}, id="names"),
    pytest.param("PutItem", {}, id="item-missing"),
    pytest.param("GetItem", {"Key": {}, "Colour": "red"}, id="unknown"),
    pytest.param("GetItem", {"Key": [], "ConsistentRead": 1}, id="wrong-types"),
]


@pytest.mark.parametrize(("operation", "params"), PARAMETERS)
def test_validation_reports_what_the_full_check_reports(
    operation: str, params: dict[str, Any]
) -> None:
    reports = []
    for check in (dynamodb_params.validate, dynamodb_params._validate):
        try:
            check(operation, params)
            reports.append(None)
        except ParamValidationError as error:
            reports.append(error.kwargs["report"])

    assert reports[0] == reports[1]
