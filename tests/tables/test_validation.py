"""Contract: what DynamoDB refuses is refused, with DynamoDB's error code and wording."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from pizzabus.errors import PizzabusError
from pizzabus.sdk.dynamodb import DynamoDBResource, LocalTable
from pizzabus.tables import TableStore

# (operation, parameters, the start of DynamoDB's message)
REFUSED: list[Any] = [
    pytest.param(
        "put_item",
        {"Item": {"thread": "t"}},
        "One or more parameter values were invalid: Missing the key seq in the item",
        id="put-without-sort-key",
    ),
    pytest.param(
        "put_item",
        {"Item": {"thread": "t", "seq": "1"}},
        "One or more parameter values were invalid: Type mismatch for key seq expected: N "
        "actual: S",
        id="put-with-wrong-key-type",
    ),
    pytest.param(
        "put_item",
        {"Item": {"thread": "", "seq": 1}},
        "One or more parameter values are not valid. The AttributeValue for a key attribute "
        "cannot contain an empty string value. Key: thread",
        id="put-with-empty-string-key",
    ),
    pytest.param(
        "put_item",
        {"Item": {"thread": "t", "seq": 1, "author": 5, "posted": 1}},
        "One or more parameter values were invalid: Type mismatch for Index Key author "
        "Expected: S Actual: N IndexName: by_author",
        id="put-with-wrong-index-key-type",
    ),
    pytest.param(
        "put_item",
        {"Item": {"thread": "t", "seq": 1, "blob": b"x" * 410_000}},
        "Item size has exceeded the maximum allowed size",
        id="put-over-400-kb",
    ),
    pytest.param(
        "update_item",
        {
            "Key": {"thread": "t", "seq": 1},
            "UpdateExpression": "SET payload = :b",
            "ExpressionAttributeValues": {":b": b"x" * 410_000},
        },
        "Item size to update has exceeded the maximum allowed size",
        id="update-over-400-kb",
    ),
    pytest.param(
        "put_item",
        {"Item": {"thread": "t", "seq": 1, "s": set()}},
        "One or more parameter values were invalid: An number set  may not be empty",
        id="put-empty-set",
    ),
    pytest.param(
        "put_item",
        {"Item": {"thread": "t", "seq": Decimal("1E+126")}},
        "Number overflow",
        id="put-number-too-large",
    ),
    pytest.param(
        "get_item",
        {"Key": {"thread": "t"}},
        "The provided key element does not match the schema",
        id="get-with-partial-key",
    ),
    pytest.param(
        "get_item",
        {"Key": {"thread": "t", "seq": 1, "extra": 1}},
        "The provided key element does not match the schema",
        id="get-with-extra-attribute",
    ),
    pytest.param(
        "delete_item",
        {"Key": {"thread": "t", "seq": "1"}},
        "The provided key element does not match the schema",
        id="delete-with-wrong-key-type",
    ),
    pytest.param(
        "put_item",
        {"Item": {"thread": "t", "seq": 1}, "ConditionExpression": "attribute_not_exists(seq) AND"},
        'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "AND"',
        id="syntax-error-at-end",
    ),
    pytest.param(
        "put_item",
        {
            "Item": {"thread": "t", "seq": 1},
            "ConditionExpression": "seq = = :v",
            "ExpressionAttributeValues": {":v": 1},
        },
        'Invalid ConditionExpression: Syntax error; token: "=", near: "= = :v"',
        id="syntax-error-in-the-middle",
    ),
    pytest.param(
        "put_item",
        {"Item": {"thread": "t", "seq": 1}, "ConditionExpression": "seq = :v"},
        "Invalid ConditionExpression: An expression attribute value used in expression is not "
        "defined; attribute value: :v",
        id="undefined-value",
    ),
    pytest.param(
        "put_item",
        {
            "Item": {"thread": "t", "seq": 1},
            "ConditionExpression": "#s = :v",
            "ExpressionAttributeValues": {":v": 1},
        },
        "Invalid ConditionExpression: An expression attribute name used in the document path is "
        "not defined; attribute name: #s",
        id="undefined-name",
    ),
    pytest.param(
        "put_item",
        {
            "Item": {"thread": "t", "seq": 1},
            "ConditionExpression": "seq = :v",
            "ExpressionAttributeValues": {":v": 1, ":x": 2, ":a": 3},
        },
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:a, :x}",
        id="unused-values",
    ),
    pytest.param(
        "put_item",
        {"Item": {"thread": "t", "seq": 1}, "ExpressionAttributeValues": {":v": 1}},
        "ExpressionAttributeValues can only be specified when using expressions",
        id="values-without-expressions",
    ),
    pytest.param(
        "put_item",
        {
            "Item": {"thread": "t", "seq": 1},
            "ConditionExpression": "status = :v",
            "ExpressionAttributeValues": {":v": 1},
        },
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: "
        "status",
        id="reserved-word",
    ),
    pytest.param(
        "put_item",
        {"Item": {"thread": "t", "seq": 1}, "ConditionExpression": "nope(seq)"},
        "Invalid ConditionExpression: Invalid function name; function: nope",
        id="unknown-function",
    ),
    pytest.param(
        "put_item",
        {
            "Item": {"thread": "t", "seq": 1},
            "ConditionExpression": "seq BETWEEN :b AND :a",
            "ExpressionAttributeValues": {":a": 1, ":b": 2},
        },
        "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater "
        "than or equal to lower bound",
        id="between-bounds-reversed",
    ),
    pytest.param(
        "put_item",
        {"Item": {"thread": "t", "seq": 1}, "ConditionExpression": ""},
        "Invalid ConditionExpression: The expression can not be empty;",
        id="empty-expression",
    ),
    pytest.param(
        "put_item",
        {"Item": {"thread": "t", "seq": 1}, "ReturnValues": "ALL_NEW"},
        "ReturnValues can only be ALL_OLD or NONE",
        id="put-returning-new",
    ),
    pytest.param(
        "update_item",
        {
            "Key": {"thread": "t", "seq": 1},
            "UpdateExpression": "SET a = :v",
            "ExpressionAttributeValues": {":v": 1},
            "ReturnValues": "EVERYTHING",
        },
        "1 validation error detected: Value 'EVERYTHING' at 'returnValues' failed to satisfy "
        "constraint: Member must satisfy enum value set: [NONE, ALL_OLD, UPDATED_OLD, ALL_NEW, "
        "UPDATED_NEW]",
        id="update-returning-no-such-thing",
    ),
    pytest.param(
        "update_item",
        {
            "Key": {"thread": "t", "seq": 1},
            "UpdateExpression": "SET a = :v",
            "ConditionExpression": "SET a = :v",
            "ExpressionAttributeValues": {":v": 1},
        },
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: SET",
        id="update-with-an-update-for-condition",
    ),
    pytest.param(
        "delete_item",
        {"Key": {"thread": "t", "seq": 1}, "ReturnValues": "UPDATED_NEW"},
        "ReturnValues can only be ALL_OLD or NONE",
        id="delete-returning-updated-new",
    ),
    pytest.param(
        "delete_item",
        {"Key": {"thread": "t", "seq": 1}, "ReturnValues": "EVERYTHING"},
        "1 validation error detected: Value 'EVERYTHING' at 'returnValues' failed to satisfy "
        "constraint: Member must satisfy enum value set: [NONE, ALL_OLD, UPDATED_OLD, ALL_NEW, "
        "UPDATED_NEW]",
        id="delete-returning-no-such-thing",
    ),
    pytest.param(
        "update_item",
        {
            "Key": {"thread": "t", "seq": 1},
            "UpdateExpression": "SET seq = :v",
            "ExpressionAttributeValues": {":v": 2},
        },
        "One or more parameter values were invalid: Cannot update attribute seq. This attribute "
        "is part of the key",
        id="update-of-a-key",
    ),
    pytest.param(
        "update_item",
        {
            "Key": {"thread": "t", "seq": 1},
            "UpdateExpression": "SET a = :v, a = :w",
            "ExpressionAttributeValues": {":v": 1, ":w": 2},
        },
        "Invalid UpdateExpression: Two document paths overlap with each other",
        id="update-overlapping-paths",
    ),
    pytest.param(
        "update_item",
        {
            "Key": {"thread": "t", "seq": 1},
            "UpdateExpression": "SET a = nothing + :v",
            "ExpressionAttributeValues": {":v": 1},
        },
        "The provided expression refers to an attribute that does not exist in the item",
        id="update-from-a-missing-attribute",
    ),
    pytest.param(
        "update_item",
        {
            "Key": {"thread": "t", "seq": 1},
            "UpdateExpression": "SET a = :s + :v",
            "ExpressionAttributeValues": {":v": 1, ":s": "x"},
        },
        "An operand in the update expression has an incorrect data type",
        id="update-adding-a-string",
    ),
    pytest.param(
        "update_item",
        {
            "Key": {"thread": "t", "seq": 1},
            "UpdateExpression": "SET a.b = :v",
            "ExpressionAttributeValues": {":v": 1},
        },
        "The document path provided in the update expression is invalid for update",
        id="update-below-a-missing-map",
    ),
    pytest.param(
        "query",
        {"KeyConditionExpression": "seq = :v", "ExpressionAttributeValues": {":v": 1}},
        "Query condition missed key schema element: thread",
        id="query-without-partition-key",
    ),
    pytest.param(
        "query",
        {
            "KeyConditionExpression": "thread = :t OR seq = :v",
            "ExpressionAttributeValues": {":v": 1, ":t": "t"},
        },
        "Query key condition not supported",
        id="query-with-or",
    ),
    pytest.param(
        "query",
        {"KeyConditionExpression": "thread = :t", "ExpressionAttributeValues": {":t": 1}},
        "One or more parameter values were invalid: Condition parameter type does not match "
        "schema type",
        id="query-with-wrong-key-type",
    ),
    pytest.param(
        "query",
        {
            "KeyConditionExpression": "thread = :t",
            "FilterExpression": "seq > :v",
            "ExpressionAttributeValues": {":t": "t", ":v": 1},
        },
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: seq",
        id="query-filter-on-a-key",
    ),
    pytest.param(
        "query",
        {
            "IndexName": "by_nothing",
            "KeyConditionExpression": "thread = :t",
            "ExpressionAttributeValues": {":t": "t"},
        },
        "The table does not have the specified index: by_nothing",
        id="query-unknown-index",
    ),
    pytest.param(
        "query",
        {
            "KeyConditionExpression": "thread = :t",
            "ExpressionAttributeValues": {":t": "t"},
            "ExclusiveStartKey": {"thread": "other", "seq": 1},
        },
        "The provided starting key is outside query boundaries based on provided conditions",
        id="query-start-key-in-another-partition",
    ),
    pytest.param(
        "query",
        {
            "KeyConditionExpression": "thread = :t",
            "ExpressionAttributeValues": {":t": "t"},
            "ExclusiveStartKey": {"thread": "t"},
        },
        "The provided starting key is invalid",
        id="query-start-key-incomplete",
    ),
    pytest.param(
        "query",
        {
            "KeyConditionExpression": "thread = :t AND begins_with(seq, :p)",
            "ExpressionAttributeValues": {":t": "t", ":p": 1},
        },
        "Invalid KeyConditionExpression: Incorrect operand type for operator or function; "
        "operator or function: begins_with, operand type: N",
        id="query-begins-with-on-a-number",
    ),
    pytest.param(
        "put_item",
        {"Item": {"thread": "t" * 2049, "seq": 1}},
        # sic: DynamoDB's message has no space before 2048
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum "
        "size limit of2048 bytes",
        id="put-partition-key-over-2-kb",
    ),
    pytest.param(
        "put_item",
        {"Item": {"thread": "t", "seq": 1}, "ConditionExpression": "attribute_exists(a)" * 250},
        "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size",
        id="expression-over-4-kb",
    ),
    pytest.param(
        "query",
        {
            "IndexName": "by_author",
            "KeyConditionExpression": "author = :a",
            "ExpressionAttributeValues": {":a": "ann"},
            "ConsistentRead": True,
        },
        "Consistent reads are not supported on global secondary indexes",
        id="consistent-read-on-an-index",
    ),
    pytest.param(
        "scan",
        {"Segment": 3, "TotalSegments": 2},
        "The Segment parameter is zero-based and must be less than parameter TotalSegments",
        id="scan-segment-out-of-range",
    ),
]


@pytest.mark.parametrize(("operation", "params", "message"), REFUSED)
def test_refused_requests_fail_as_dynamodb_fails_them(
    posts: LocalTable, operation: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ClientError) as error:
        getattr(posts, operation)(**params)

    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"].startswith(message)
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# Refusals of a condition's values, checked word for word: DynamoDB's whole message, as
# DynamoDB Local and the emulators that were compared with DynamoDB (dynalite) give it.
def _condition(expression: str, values: dict[str, Any]) -> dict[str, Any]:
    item = {"thread": "t", "seq": 1}
    return {"Item": item, "ConditionExpression": expression, "ExpressionAttributeValues": values}


_OPERAND_TYPE = (
    "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or "
    "function: "
)
REFUSED_WORD_FOR_WORD: list[Any] = [
    pytest.param(
        _condition("seq BETWEEN :b AND :a", {":a": "a", ":b": 1}),
        "Invalid ConditionExpression: The BETWEEN operator requires same data type for lower and "
        "upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: "
        "AttributeValue: {S:a}",
        id="between-bounds-of-two-types",
    ),
    pytest.param(
        _condition("seq BETWEEN :b AND :a", {":a": 1, ":b": 2}),
        "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater "
        "than or equal to lower bound; lower bound operand: AttributeValue: {N:2}, upper bound "
        "operand: AttributeValue: {N:1}",
        id="between-numbers-reversed",
    ),
    pytest.param(
        _condition("seq BETWEEN :b AND :a", {":a": "a", ":b": "b"}),
        "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater "
        "than or equal to lower bound; lower bound operand: AttributeValue: {S:b}, upper bound "
        "operand: AttributeValue: {S:a}",
        id="between-strings-reversed",
    ),
    pytest.param(
        _condition("seq BETWEEN :a AND :b", {":a": 1, ":b": True}),
        f"{_OPERAND_TYPE}BETWEEN, operand type: BOOL",
        id="between-a-boolean-upper-bound",
    ),
    pytest.param(
        _condition("seq BETWEEN :a AND :b", {":a": None, ":b": 1}),
        f"{_OPERAND_TYPE}BETWEEN, operand type: NULL",
        id="between-a-null-lower-bound",
    ),
    pytest.param(
        _condition(":a BETWEEN seq AND seq", {":a": [1]}),
        f"{_OPERAND_TYPE}BETWEEN, operand type: L",
        id="between-a-list",
    ),
    pytest.param(
        _condition("seq < :v", {":v": True}),
        f"{_OPERAND_TYPE}<, operand type: BOOL",
        id="less-than-a-boolean",
    ),
    pytest.param(
        _condition(":v >= seq", {":v": {"a"}}),
        f"{_OPERAND_TYPE}>=, operand type: SS",
        id="a-set-on-the-left",
    ),
    pytest.param(
        _condition("begins_with(seq, :p)", {":p": {"m": 1}}),
        f"{_OPERAND_TYPE}begins_with, operand type: M",
        id="begins-with-a-map",
    ),
    pytest.param(
        _condition("attribute_type(seq, :t)", {":t": "STRING"}),
        "Invalid ConditionExpression: Invalid attribute type name found; type: STRING, valid "
        "types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
        id="attribute-type-unknown",
    ),
]


@pytest.mark.parametrize(("params", "message"), REFUSED_WORD_FOR_WORD)
def test_refused_condition_values_fail_in_dynamodbs_words(
    posts: LocalTable, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ClientError) as error:
        posts.put_item(**params)

    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"] == message


def test_between_checks_its_bounds_in_a_filter_in_the_filters_words(posts: LocalTable) -> None:
    with pytest.raises(ClientError) as error:
        posts.query(
            KeyConditionExpression="thread = :t",
            FilterExpression="twin BETWEEN :low AND :high",
            ExpressionAttributeValues={":t": "t", ":low": "a", ":high": 2},
        )

    assert error.value.response["Error"]["Message"] == (
        "Invalid FilterExpression: The BETWEEN operator requires same data type for lower and "
        "upper bounds; lower bound operand: AttributeValue: {S:a}, upper bound operand: "
        "AttributeValue: {N:2}"
    )


def test_a_missing_table_is_resource_not_found(dynamodb: DynamoDBResource) -> None:
    with pytest.raises(ClientError) as error:
        dynamodb.Table("nope").get_item(Key={"id": "x"})

    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert error.value.response["Error"]["Message"].startswith("Requested resource not found")


def test_floats_raise_type_error_as_boto3_does(users: LocalTable) -> None:
    with pytest.raises(TypeError, match=r"^Float types are not supported\. Use Decimal types"):
        users.put_item(Item={"user_id": "u", "price": 1.5})


BAD_PARAMETERS = [
    pytest.param("get_item", {}, 'Missing required parameter in input: "Key"', id="missing"),
    pytest.param(
        "get_item",
        {"Key": {"user_id": "u"}, "Bogus": 1},
        'Unknown parameter in input: "Bogus", must be one of: TableName, Key, '
        "AttributesToGet, ConsistentRead",
        id="unknown",
    ),
    pytest.param(
        "query",
        {"Limit": "3"},
        "Invalid type for parameter Limit, value: 3, type: "
        "<class 'str'>, valid types: <class 'int'>",
        id="wrong-type",
    ),
    pytest.param(
        "query",
        {"Limit": 0},
        "Invalid value for parameter Limit, value: 0, valid min value: 1",
        id="limit-0",
    ),
]


@pytest.mark.parametrize(("operation", "params", "report"), BAD_PARAMETERS)
def test_bad_parameters_fail_as_botocore_fails_them(
    users: LocalTable, operation: str, params: dict[str, Any], report: str
) -> None:
    with pytest.raises(ParamValidationError) as error:
        getattr(users, operation)(**params)

    assert error.value.kwargs["report"].startswith(report)


def test_parameter_lists_match_botocore_service_model() -> None:
    from botocore.session import get_session

    from pizzabus.sdk import dynamodb_params

    model = get_session().get_service_model("dynamodb")
    for operation, members in dynamodb_params._PARAMS.items():
        assert list(members) == list(model.operation_model(operation).input_shape.members)


def test_authorize_is_asked_before_each_operation(store: TableStore) -> None:
    asked: list[tuple[str, str]] = []

    def authorize(table: str, operation: str) -> None:
        asked.append((table, operation))
        if operation == "PutItem":
            raise PizzabusError("not granted dynamodb:PutItem", code="AccessDeniedException")

    users = DynamoDBResource(store, authorize=authorize).Table("users")
    users.get_item(Key={"user_id": "u"})
    with pytest.raises(ClientError) as error:
        users.put_item(Item={"user_id": "u"})

    assert asked == [("users", "GetItem"), ("users", "PutItem")]
    assert error.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "Item" not in users.get_item(Key={"user_id": "u"})


def test_legacy_parameters_are_refused_with_the_expression_to_use(users: LocalTable) -> None:
    with pytest.raises(ClientError) as error:
        users.put_item(Item={"user_id": "u"}, Expected={"user_id": {"Exists": False}})

    assert "write a ConditionExpression instead" in error.value.response["Error"]["Message"]
