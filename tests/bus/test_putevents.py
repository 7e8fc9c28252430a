"""PutEvents validates requests and entries as EventBridge does."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pizzabus.bus.putevents import EntryError, ValidEntry, validate_entry, validate_request
from pizzabus.errors import ValidationError


def entry(**overrides: Any) -> dict[str, Any]:
    base = {"Source": "lab_http_api", "DetailType": "eventtype", "Detail": '{"item": {}}'}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        pytest.param(
            entry(Source=None),
            "InvalidArgument",
            "Parameter Source is not valid. Reason: Source is a required argument.",
            id="no-source",
        ),
        pytest.param(
            entry(DetailType=None),
            "InvalidArgument",
            "Parameter DetailType is not valid. Reason: DetailType is a required argument.",
            id="no-detail-type",
        ),
        pytest.param(
            entry(Detail=None),
            "InvalidArgument",
            "Parameter Detail is not valid. Reason: Detail is a required argument.",
            id="no-detail",
        ),
        pytest.param(
            entry(Source=None, DetailType=None),
            "InvalidArgument",
            "Parameter Source is not valid. Reason: Source is a required argument.",
            id="source-reported-first",
        ),
        pytest.param(
            entry(Detail="{oops"), "MalformedDetail", "Detail is malformed.", id="bad-json"
        ),
        pytest.param(
            entry(Detail="[1, 2]"),
            "MalformedDetail",
            "Detail is malformed. It must be a JSON object.",
            id="detail-is-an-array",
        ),
        pytest.param(
            entry(Detail='{"n": NaN}'), "MalformedDetail", "Detail is malformed.", id="nan"
        ),
        pytest.param(
            entry(Detail='{"n": 1e400}'),
            "MalformedDetail",
            "Detail is malformed: the number 1e400 is out of range (a double holds at most "
            "about 1.8e308). Send it as a string.",
            id="out-of-range",
        ),
        pytest.param(
            entry(Source="lab\ud800"),
            "InvalidArgument",
            "Parameter Source is not valid. Reason: it holds a lone UTF-16 surrogate, which "
            "UTF-8 cannot carry.",
            id="lone-surrogate-source",
        ),
        pytest.param(
            entry(Resources="arn:x"),
            "InvalidArgument",
            "Parameter Resources is not valid.",
            id="resources-not-a-list",
        ),
        pytest.param(
            entry(DetailType="x" * 129),
            "InvalidArgument",
            "Parameter DetailType is not valid. Reason: DetailType is at most 128 characters, "
            "and this one is 129.",
            id="detail-type-too-long",
        ),
    ],
)
def test_an_invalid_entry_is_refused_with_awss_code_and_message(
    raw: dict[str, Any], code: str, message: str
) -> None:
    assert validate_entry(raw) == EntryError(code, message)


def test_a_detail_type_of_128_characters_is_accepted() -> None:
    assert isinstance(validate_entry(entry(DetailType="x" * 128)), ValidEntry)


def test_a_valid_entry_keeps_its_parsed_detail_and_bus() -> None:
    accepted = validate_entry(
        entry(
            Detail=json.dumps({"item": {"a": 1}}),
            EventBusName="arn:aws:events:us-east-1:1:event-bus/lab",
        )
    )
    assert isinstance(accepted, ValidEntry)
    assert accepted.detail == {"item": {"a": 1}}
    assert accepted.bus_name == "lab"


@pytest.mark.parametrize("count", [0, 11])
def test_a_request_with_no_entries_or_more_than_ten_is_refused_whole(count: int) -> None:
    with pytest.raises(ValidationError, match="between 1 and 10"):
        validate_request([entry()] * count)


def test_a_request_over_the_size_limit_is_refused_whole() -> None:
    big = entry(Detail=json.dumps({"pad": "x" * 600}))
    validate_request([big], max_request_bytes=1000)
    with pytest.raises(ValidationError, match="Total size of the entries"):
        validate_request([big, big], max_request_bytes=1000)


ANY_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
ENTRY_FIELDS = st.sampled_from(
    ["Source", "DetailType", "Detail", "EventBusName", "Resources", "Time"]
)


@given(
    st.one_of(
        ANY_JSON,
        st.dictionaries(ENTRY_FIELDS, st.one_of(ANY_JSON, ANY_JSON.map(json.dumps)), max_size=6),
    )
)
@settings(max_examples=300)
def test_any_entry_is_validated_or_refused_never_an_exception(raw: Any) -> None:
    result = validate_entry(raw)
    assert isinstance(result, ValidEntry | EntryError)
    with contextlib.suppress(ValidationError):  # a whole request AWS refuses whole
        validate_request([raw])
