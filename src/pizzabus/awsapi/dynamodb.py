"""DynamoDB's JSON 1.0 protocol over the running system's table store.

Each single-table operation goes through :class:`pizzabus.sdk.dynamodb.LocalTable`, the same
code that answers handlers' ``boto3.resource("dynamodb")``: the same parameter checks, the same
engine, the same error codes. This module only translates the wire format (typed attribute
values) in and out, and adds the multi-table operations on top.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

from pizzabus.awsapi.backends import Backends
from pizzabus.awsapi.dynamo_wire import from_wire_item, to_wire_item
from pizzabus.awsapi.protocol import (
    AwsError,
    AwsRequest,
    AwsResponse,
    json_error,
    json_response,
    unknown_operation,
)
from pizzabus.sdk.dynamodb import LocalTable
from pizzabus.system import Table
from pizzabus.tables import TransactionCanceled, TransactWrite

CONTENT_TYPE = "application/x-amz-json-1.0"
NAMESPACE = "com.amazonaws.dynamodb.v20120810"
#: Parameters holding typed attribute maps, in requests and in answers.
_IN_MAPS = ("Item", "Key", "ExpressionAttributeValues", "ExclusiveStartKey")
_OUT_MAPS = ("Item", "Attributes", "LastEvaluatedKey")
_MAX_BATCH_GET = 100
_MAX_BATCH_WRITE = 25
_MAX_TRANSACT = 100

Params = dict[str, Any]


class DynamoDB:
    """The DynamoDB operations the tables engine supports."""

    def __init__(self, backends: Backends) -> None:
        self._backends = backends
        self._store = backends.tables
        self._operations: dict[str, Callable[[Params], Params]] = {
            "GetItem": functools.partial(self._item, "get_item"),
            "PutItem": functools.partial(self._item, "put_item"),
            "UpdateItem": functools.partial(self._item, "update_item"),
            "DeleteItem": functools.partial(self._item, "delete_item"),
            "Query": functools.partial(self._many, "query"),
            "Scan": functools.partial(self._many, "scan"),
            "BatchGetItem": self._batch_get,
            "BatchWriteItem": self._batch_write,
            "TransactGetItems": self._transact_get,
            "TransactWriteItems": self._transact_write,
            "DescribeTable": self._describe_table,
            "ListTables": self._list_tables,
            "DescribeTimeToLive": self._describe_ttl,
        }

    async def handle(self, request: AwsRequest) -> AwsResponse:
        operation = self._operations.get(request.operation)
        if operation is None:
            raise unknown_operation("DynamoDB", request.operation, list(self._operations))
        params = request.json()
        # The stores block (SQLite), so they run off the event loop.
        return json_response(await asyncio.to_thread(operation, params), CONTENT_TYPE)

    def error(self, error: AwsError) -> AwsResponse:
        return json_error(error, NAMESPACE, CONTENT_TYPE)

    # -- items --------------------------------------------------------------------------------

    def _table(self, params: Params) -> LocalTable:
        name = params.get("TableName")
        if not isinstance(name, str) or not name:
            raise AwsError(
                "ValidationException",
                "1 validation error detected: Value null at 'tableName' failed to satisfy "
                "constraint: Member must not be null",
            )
        return LocalTable(self._store, name, None)

    def _item(self, method: str, params: Params) -> Params:
        table = self._table(params)
        answer = _call(getattr(table, method), _decoded(params))
        return _encoded(answer)

    def _many(self, method: str, params: Params) -> Params:
        table = self._table(params)
        answer = _call(getattr(table, method), _decoded(params))
        if "Items" in answer:
            answer["Items"] = [to_wire_item(item) for item in answer["Items"]]
        return _encoded(answer)

    # -- several tables -------------------------------------------------------------------------

    def _batch_get(self, params: Params) -> Params:
        requests = _mapping(params, "RequestItems")
        keys = sum(len(_list(r, "Keys")) for r in requests.values() if isinstance(r, dict))
        if not 0 < keys <= _MAX_BATCH_GET:
            raise _too_many("BatchGetItem", "keys", _MAX_BATCH_GET, keys)
        responses: dict[str, list[Params]] = {}
        for name, request in requests.items():
            if not isinstance(request, dict):
                raise AwsError("SerializationException", f"RequestItems.{name} must be a map")
            found = responses.setdefault(name, [])
            for key in _list(request, "Keys"):
                get = {k: v for k, v in request.items() if k != "Keys"}
                answer = self._item("get_item", {**get, "TableName": name, "Key": key})
                if "Item" in answer:
                    found.append(answer["Item"])
        return {"Responses": responses, "UnprocessedKeys": {}}

    def _batch_write(self, params: Params) -> Params:
        requests = _mapping(params, "RequestItems")
        count = sum(len(r) for r in requests.values() if isinstance(r, list))
        if not 0 < count <= _MAX_BATCH_WRITE:
            raise _too_many("BatchWriteItem", "requests", _MAX_BATCH_WRITE, count)
        writes: list[tuple[str, Params]] = []
        for name, items in requests.items():
            if not isinstance(items, list):
                raise AwsError("SerializationException", f"RequestItems.{name} must be a list")
            for write in items:
                if isinstance(write, dict) and isinstance(write.get("PutRequest"), dict):
                    writes.append(("put_item", {"TableName": name, **write["PutRequest"]}))
                elif isinstance(write, dict) and isinstance(write.get("DeleteRequest"), dict):
                    writes.append(("delete_item", {"TableName": name, **write["DeleteRequest"]}))
                else:
                    raise AwsError(
                        "ValidationException",
                        f"RequestItems.{name}: each write request has exactly one of "
                        "PutRequest or DeleteRequest",
                    )
        # Every table and item is checked before anything is written, as DynamoDB refuses the
        # whole batch.
        for _, write in writes:
            self._check_table(write["TableName"])
            _decoded(write)
        for method, write in writes:
            self._item(method, write)
        return {"UnprocessedItems": {}}

    def _transact_get(self, params: Params) -> Params:
        items = _list(params, "TransactItems")
        if not 0 < len(items) <= _MAX_TRANSACT:
            raise _too_many("TransactGetItems", "items", _MAX_TRANSACT, len(items))
        gets = []
        for item in items:
            get = item.get("Get") if isinstance(item, dict) else None
            if not isinstance(get, dict):
                raise AwsError("ValidationException", "Each TransactItems member needs a Get")
            gets.append(get)
        responses = []
        for get in gets:
            answer = self._item("get_item", get)
            responses.append({"Item": answer["Item"]} if "Item" in answer else {})
        return {"Responses": responses}

    def _transact_write(self, params: Params) -> Params:
        actions = [
            _action(item, index) for index, item in enumerate(_list(params, "TransactItems"))
        ]
        try:
            self._store.transact_write(actions)
        except TransactionCanceled as canceled:
            raise AwsError(
                canceled.code,
                canceled.message,
                400,
                {"CancellationReasons": canceled.reasons},
            ) from None
        except Exception as error:
            raise _aws(error) from None
        return {}

    # -- tables ---------------------------------------------------------------------------------

    def _check_table(self, name: str) -> Table:
        try:
            return self._store.describe(name)
        except Exception as error:
            raise _aws(error) from None

    def _describe_table(self, params: Params) -> Params:
        table = self._table(params)
        spec = self._check_table(table.name)
        identity = self._backends.identity
        description: Params = {
            "TableName": spec.name,
            "TableStatus": "ACTIVE",
            "KeySchema": table.key_schema,
            "AttributeDefinitions": table.attribute_definitions,
            "TableArn": (
                f"arn:aws:dynamodb:{identity.region}:{identity.account}:table/{spec.name}"
            ),
            "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
            "ProvisionedThroughput": {
                "NumberOfDecreasesToday": 0,
                "ReadCapacityUnits": 0,
                "WriteCapacityUnits": 0,
            },
        }
        indexes = table.global_secondary_indexes
        if indexes:
            description["GlobalSecondaryIndexes"] = indexes
        return {"Table": description}

    def _list_tables(self, params: Params) -> Params:
        names = sorted(self._backends.table_names)
        start = params.get("ExclusiveStartTableName")
        if start is not None:
            names = [n for n in names if n > start]
        limit = params.get("Limit", 100)
        if not isinstance(limit, int) or not 1 <= limit <= 100:
            raise AwsError("ValidationException", "Limit must be between 1 and 100")
        answer: Params = {"TableNames": names[:limit]}
        if len(names) > limit:
            answer["LastEvaluatedTableName"] = names[limit - 1]
        return answer

    def _describe_ttl(self, params: Params) -> Params:
        spec = self._check_table(self._table(params).name)
        if spec.ttl_attribute is None:
            return {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}
        return {
            "TimeToLiveDescription": {
                "TimeToLiveStatus": "ENABLED",
                "AttributeName": spec.ttl_attribute,
            }
        }


def _call(method: Callable[..., Params], params: Params) -> Params:
    try:
        answer = method(**params)
    except Exception as error:
        raise _aws(error) from None
    answer.pop("ResponseMetadata", None)
    return answer


def _aws(error: Exception) -> AwsError:
    if isinstance(error, AwsError):
        return error
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return AwsError(str(details.get("Code")), str(details.get("Message")), 400)
    if isinstance(error, ParamValidationError):
        return AwsError("ValidationException", str(error))
    if isinstance(error, TypeError):
        return AwsError("SerializationException", f"A parameter has the wrong type: {error}")
    code = getattr(error, "code", None)
    message = getattr(error, "message", None)
    if isinstance(code, str) and isinstance(message, str):
        return AwsError(code, message, 400)
    raise error


_ACTION_KEYS = {"Put": "Item", "Update": "Key", "Delete": "Key", "ConditionCheck": "Key"}


def _action(member: Any, index: int) -> TransactWrite:
    """One member of TransactItems as the engine's action."""
    where = f"TransactItems[{index}]"
    if not isinstance(member, dict) or len(member) != 1:
        raise AwsError(
            "ValidationException",
            f"{where} must have exactly one of Put, Update, Delete, ConditionCheck",
        )
    ((kind, action),) = member.items()
    if kind not in _ACTION_KEYS or not isinstance(action, dict):
        raise AwsError(
            "ValidationException",
            f"{where}: {kind!r} is not one of Put, Update, Delete, ConditionCheck",
        )
    table = action.get("TableName")
    if not isinstance(table, str):
        raise AwsError("ValidationException", f"{where}.{kind}.TableName is required")
    item = from_wire_item(action.get(_ACTION_KEYS[kind]), f"{where}.{kind}.{_ACTION_KEYS[kind]}")
    values = action.get("ExpressionAttributeValues")
    return TransactWrite(
        kind,
        table,
        item,
        update=action.get("UpdateExpression"),
        condition=action.get("ConditionExpression"),
        names=action.get("ExpressionAttributeNames"),
        values=from_wire_item(values, "ExpressionAttributeValues") if values is not None else None,
    )


def _decoded(params: Params) -> Params:
    decoded = dict(params)
    for name in _IN_MAPS:
        if name in decoded:
            decoded[name] = from_wire_item(decoded[name], name)
    return decoded


def _encoded(answer: Params) -> Params:
    for name in _OUT_MAPS:
        if name in answer:
            answer[name] = to_wire_item(answer[name])
    return answer


def _mapping(params: Params, name: str) -> dict[str, Any]:
    value = params.get(name)
    if not isinstance(value, dict):
        raise AwsError("ValidationException", f"{name} is required and must be a map")
    return value


def _list(params: Params, name: str) -> list[Any]:
    value = params.get(name)
    if not isinstance(value, list):
        raise AwsError("ValidationException", f"{name} is required and must be a list")
    return value


def _too_many(operation: str, what: str, limit: int, count: int) -> AwsError:
    return AwsError(
        "ValidationException",
        f"{operation} takes between 1 and {limit} {what}; this request has {count}",
    )
