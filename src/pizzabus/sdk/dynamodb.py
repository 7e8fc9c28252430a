"""``boto3.resource("dynamodb")`` for handlers running on pizzabus, over a table store.

:class:`DynamoDBResource` ``.Table(name)`` gives a :class:`LocalTable` that takes the parameters
boto3's resource-level ``Table`` takes and answers what it answers: numbers as ``Decimal``,
binaries as ``boto3.dynamodb.types.Binary``, sets as ``set``, a ``ResponseMetadata`` on every
response. Mistakes fail as they fail with boto3: a ``float`` raises ``TypeError`` before anything
is sent, a wrong or missing parameter raises ``botocore.exceptions.ParamValidationError``, and
what DynamoDB would refuse raises ``botocore.exceptions.ClientError`` with DynamoDB's code.
Condition objects (``Key("a").eq(1)``, ``Attr("b").exists()``) are accepted where boto3 accepts
them.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import ConditionBase, ConditionExpressionBuilder
from boto3.dynamodb.types import Binary, TypeSerializer
from botocore.exceptions import ClientError

from pizzabus.errors import PizzabusError
from pizzabus.sdk.dynamodb_params import LEGACY, LEGACY_NAMES, validate
from pizzabus.sdk.errors import translate
from pizzabus.tables.errors import ConditionalCheckFailed, TableValidationError
from pizzabus.tables.store import TableStore

Authorize = Callable[[str, str], None]

_REQUEST_PREFIX = os.urandom(10).hex().upper()
_request_numbers = itertools.count(1)


class DynamoDBResource:
    """What ``boto3.resource("dynamodb")`` gives a handler: tables by name.

    ``authorize(table, operation)`` (``"GetItem"``, ``"Scan"``, ``"BatchWriteItem"``…) is called
    before each operation; it raises a
    pizzabus error with code ``AccessDeniedException`` when the function may not do that.
    """

    def __init__(self, store: TableStore, *, authorize: Authorize | None = None) -> None:
        self._store = store
        self._authorize = authorize

    def Table(self, name: str) -> LocalTable:
        """The table ``name``; like boto3, it is not looked up until first used."""
        return LocalTable(self._store, name, self._authorize)


class LocalTable:
    """boto3's ``dynamodb.Table`` resource over a :class:`TableStore`."""

    __slots__ = ("_authorize", "_store", "name")

    def __init__(self, store: TableStore, name: str, authorize: Authorize | None) -> None:
        self._store = store
        self._authorize = authorize
        self.name = name

    def __repr__(self) -> str:
        return f"dynamodb.Table(name={self.name!r})"

    @property
    def table_name(self) -> str:
        return self.name

    # -- description ------------------------------------------------------------------------------

    @property
    def key_schema(self) -> list[dict[str, str]]:
        spec = self._describe()
        schema = [{"AttributeName": spec.partition_key.name, "KeyType": "HASH"}]
        if spec.sort_key is not None:
            schema.append({"AttributeName": spec.sort_key.name, "KeyType": "RANGE"})
        return schema

    @property
    def attribute_definitions(self) -> list[dict[str, str]]:
        spec = self._describe()
        keys = [spec.partition_key, spec.sort_key]
        for gsi in spec.indexes:
            keys += [gsi.partition_key, gsi.sort_key]
        seen: dict[str, str] = {}
        for key in keys:
            if key is not None:
                seen.setdefault(key.name, key.type)
        return [{"AttributeName": n, "AttributeType": t} for n, t in seen.items()]

    @property
    def global_secondary_indexes(self) -> list[dict[str, Any]] | None:
        spec = self._describe()
        if not spec.indexes:
            return None
        out = []
        for gsi in spec.indexes:
            schema = [{"AttributeName": gsi.partition_key.name, "KeyType": "HASH"}]
            if gsi.sort_key is not None:
                schema.append({"AttributeName": gsi.sort_key.name, "KeyType": "RANGE"})
            out.append(
                {
                    "IndexName": gsi.name,
                    "KeySchema": schema,
                    "Projection": {"ProjectionType": "ALL"},
                    "IndexStatus": "ACTIVE",
                }
            )
        return out

    @property
    def table_status(self) -> str:
        self._describe()
        return "ACTIVE"

    def load(self) -> None:
        """Check that the table exists (boto3 loads its description here)."""
        self._describe()

    reload = load

    def wait_until_exists(self) -> None:
        self._describe()

    def _describe(self) -> Any:
        self._check(self.name, "DescribeTable")
        try:
            return self._store.describe(self.name)
        except PizzabusError as error:
            raise translate(error, "DescribeTable") from None

    # -- single items ---------------------------------------------------------------------------

    def put_item(self, **params: Any) -> dict[str, Any]:
        """``PutItem``: write a whole item, optionally on a condition."""
        table = self._begin("PutItem", params)
        names, values, condition, _ = _expressions(params, "ConditionExpression")
        try:
            old = self._store.put_item(
                table,
                params["Item"],
                condition=condition,
                names=names,
                values=values,
                returns=params.get("ReturnValues", "NONE"),
            )
        except PizzabusError as error:
            raise _client_error(error, "PutItem", params) from None
        return _with_attributes(old)

    def get_item(self, **params: Any) -> dict[str, Any]:
        """``GetItem``: the item with this key, under ``"Item"``, or no ``"Item"`` at all."""
        table = self._begin("GetItem", params)
        try:
            item = self._store.get_item(
                table,
                params["Key"],
                projection=params.get("ProjectionExpression"),
                names=params.get("ExpressionAttributeNames"),
            )
        except PizzabusError as error:
            raise translate(error, "GetItem") from None
        if item is None:
            return {"ResponseMetadata": _metadata()}
        return {"Item": _to_boto(item), "ResponseMetadata": _metadata()}

    def delete_item(self, **params: Any) -> dict[str, Any]:
        """``DeleteItem``: delete the item with this key, optionally on a condition."""
        table = self._begin("DeleteItem", params)
        names, values, condition, _ = _expressions(params, "ConditionExpression")
        try:
            old = self._store.delete_item(
                table,
                params["Key"],
                condition=condition,
                names=names,
                values=values,
                returns=params.get("ReturnValues", "NONE"),
            )
        except PizzabusError as error:
            raise _client_error(error, "DeleteItem", params) from None
        return _with_attributes(old)

    def update_item(self, **params: Any) -> dict[str, Any]:
        """``UpdateItem``: apply an UpdateExpression, creating the item if needed."""
        table = self._begin("UpdateItem", params)
        names, values, condition, _ = _expressions(params, "ConditionExpression")
        try:
            attributes = self._store.update_item(
                table,
                params["Key"],
                update=params.get("UpdateExpression"),
                condition=condition,
                names=names,
                values=values,
                returns=params.get("ReturnValues", "NONE"),
            )
        except PizzabusError as error:
            raise _client_error(error, "UpdateItem", params) from None
        return _with_attributes(attributes)

    # -- many items -----------------------------------------------------------------------------

    def query(self, **params: Any) -> dict[str, Any]:
        """``Query``: items of one partition of the table or of a global index."""
        table = self._begin("Query", params)
        names, values, filter_, key = _expressions(params, "FilterExpression")
        try:
            count_only = "Select" in params and _select(params)
            _consistent_read(params)
            if key is None:
                raise TableValidationError(
                    "Either the KeyConditions or KeyConditionExpression parameter must be "
                    "specified in the request."
                )
            page = self._store.query(
                table,
                key_condition=key,
                filter=filter_,
                index=params.get("IndexName"),
                names=names,
                values=values,
                limit=params.get("Limit"),
                start_key=params.get("ExclusiveStartKey"),
                forward=params.get("ScanIndexForward", True),
                projection=params.get("ProjectionExpression"),
            )
        except PizzabusError as error:
            raise translate(error, "Query") from None
        return _page_response(page, count_only)

    def scan(self, **params: Any) -> dict[str, Any]:
        """``Scan``: every item of the table or of a global index, a page at a time."""
        table = self._begin("Scan", params)
        names, values, filter_, _ = _expressions(params, "FilterExpression")
        try:
            count_only = _select(params)
            _consistent_read(params)
            segment, total = _segments(params)
            page = self._store.scan(
                table,
                filter=filter_,
                index=params.get("IndexName"),
                names=names,
                values=values,
                limit=params.get("Limit"),
                start_key=params.get("ExclusiveStartKey"),
                projection=params.get("ProjectionExpression"),
                segment=segment,
                total_segments=total,
            )
        except PizzabusError as error:
            raise translate(error, "Scan") from None
        return _page_response(page, count_only)

    def batch_writer(self, overwrite_by_pkeys: list[str] | None = None) -> BatchWriter:
        """boto3's batch writer: puts and deletes, sent in groups of 25 and when the block ends."""
        return BatchWriter(self, overwrite_by_pkeys)

    # -- shared steps ---------------------------------------------------------------------------

    def _begin(self, operation: str, params: dict[str, Any]) -> str:
        validate(operation, params)
        table: str = params.get("TableName", self.name)
        if not LEGACY_NAMES.isdisjoint(params):
            legacy = [p for p in LEGACY if p in params]
            raise translate(
                TableValidationError(
                    f"pizzabus supports DynamoDB's expression parameters only; {legacy[0]} is a "
                    f"legacy parameter: {LEGACY[legacy[0]]}"
                ),
                operation,
            )
        capacity = params.get("ReturnConsumedCapacity", "NONE")
        if capacity != "NONE":
            raise translate(
                TableValidationError(
                    f"pizzabus does not measure capacity, so ReturnConsumedCapacity={capacity!r} "
                    "cannot be answered; leave it out (or pass 'NONE') when running locally"
                ),
                operation,
            )
        self._check(table, operation)
        return table

    def _check(self, table: str, operation: str) -> None:
        if self._authorize is not None:
            try:
                self._authorize(table, operation)
            except PizzabusError as error:
                raise translate(error, operation) from None


class BatchWriter:
    """``Table.batch_writer()``: buffers puts and deletes and writes them 25 at a time."""

    def __init__(self, table: LocalTable, overwrite_by_pkeys: list[str] | None) -> None:
        self._table = table
        self._keys = overwrite_by_pkeys
        self._pending: list[tuple[str, dict[str, Any]]] = []

    def put_item(self, Item: dict[str, Any]) -> None:
        self._add("put", Item)

    def delete_item(self, Key: dict[str, Any]) -> None:
        self._add("delete", Key)

    def _add(self, kind: str, value: dict[str, Any]) -> None:
        if self._keys:
            wanted = [value.get(k) for k in self._keys]
            self._pending = [
                (k, v) for k, v in self._pending if [v.get(n) for n in self._keys] != wanted
            ]
        self._pending.append((kind, value))
        if len(self._pending) >= 25:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        # On AWS the batch is one BatchWriteItem call, authorized as such.
        self._table._check(self._table.name, "BatchWriteItem")
        pending, self._pending = self._pending, []
        for kind, value in pending:
            if kind == "put":
                self._table.put_item(Item=value)
            else:
                self._table.delete_item(Key=value)

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._flush()


def _expressions(
    params: Mapping[str, Any], condition_param: str
) -> tuple[Any, Any, str | None, str | None]:
    """Names, values, the condition (or filter) and the key condition, as strings: condition
    objects are built as boto3 builds them, and their placeholders merged in."""
    names = params.get("ExpressionAttributeNames")
    values = params.get("ExpressionAttributeValues")
    condition = params.get(condition_param)
    key = params.get("KeyConditionExpression")
    if not isinstance(condition, ConditionBase) and not isinstance(key, ConditionBase):
        return names, values, condition, key
    builder = ConditionExpressionBuilder()
    names = dict(names or {})
    values = dict(values or {})
    if isinstance(condition, ConditionBase):
        built = builder.build_expression(condition, is_key_condition=False)
        condition = built.condition_expression
        names.update(built.attribute_name_placeholders)
        values.update(built.attribute_value_placeholders)
    if isinstance(key, ConditionBase):
        built = builder.build_expression(key, is_key_condition=True)
        key = built.condition_expression
        names.update(built.attribute_name_placeholders)
        values.update(built.attribute_value_placeholders)
    return names or None, values or None, condition, key


def _select(params: Mapping[str, Any]) -> bool:
    """Whether ``Select="COUNT"``; refuses the combinations DynamoDB refuses."""
    select = params.get("Select")
    if select is None:
        return False
    projection = params.get("ProjectionExpression")
    if select in ("COUNT", "ALL_ATTRIBUTES"):
        if projection is not None:
            raise TableValidationError(
                f"Cannot specify the ProjectionExpression when choosing to get {select}"
            )
        return bool(select == "COUNT")
    if select == "SPECIFIC_ATTRIBUTES":
        if projection is None:
            raise TableValidationError(
                "Select type SPECIFIC_ATTRIBUTES needs a ProjectionExpression naming the attributes"
            )
        return False
    if select == "ALL_PROJECTED_ATTRIBUTES":
        if params.get("IndexName") is None:
            raise TableValidationError(
                "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
            )
        return False
    raise TableValidationError(
        f"1 validation error detected: Value '{select}' at 'select' failed to satisfy constraint: "
        "Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, "
        "ALL_PROJECTED_ATTRIBUTES]"
    )


def _consistent_read(params: Mapping[str, Any]) -> None:
    if params.get("ConsistentRead") and params.get("IndexName") is not None:
        raise TableValidationError(
            "Consistent reads are not supported on global secondary indexes (index "
            f"{params['IndexName']}); leave ConsistentRead out when reading an index"
        )


def _segments(params: Mapping[str, Any]) -> tuple[int, int]:
    segment = params.get("Segment")
    total = params.get("TotalSegments")
    if segment is None and total is None:
        return 0, 1
    if total is None:
        raise TableValidationError(
            "The TotalSegments parameter is required but was not present in the request when "
            "Segment parameter is present"
        )
    if segment is None:
        raise TableValidationError(
            "The Segment parameter is required but was not present in the request when parameter "
            "TotalSegments is present"
        )
    return segment, total


def _page_response(page: Any, count_only: bool) -> dict[str, Any]:
    items = page.items
    response: dict[str, Any]
    if count_only:
        response = {"Count": len(items), "ScannedCount": page.scanned_count}
    else:
        # The page is this call's own (a store answers fresh items), so it is handed over as is.
        for item in items:
            _to_boto(item)
        response = {"Items": items, "Count": len(items), "ScannedCount": page.scanned_count}
    if page.last_key is not None:
        response["LastEvaluatedKey"] = _to_boto(page.last_key)
    response["ResponseMetadata"] = _metadata()
    return response


def _with_attributes(attributes: dict[str, Any] | None) -> dict[str, Any]:
    if attributes is None:
        return {"ResponseMetadata": _metadata()}
    return {"Attributes": _to_boto(attributes), "ResponseMetadata": _metadata()}


def _client_error(error: PizzabusError, operation: str, params: Mapping[str, Any]) -> ClientError:
    client_error = translate(error, operation)
    if (
        isinstance(error, ConditionalCheckFailed)
        and error.item is not None
        and params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
    ):
        # Error responses are not deserialized by boto3: the item is in DynamoDB's wire format.
        serialize = TypeSerializer().serialize
        client_error.response["Item"] = {k: serialize(v) for k, v in error.item.items()}
    return client_error


def _metadata() -> dict[str, Any]:
    request_id = _REQUEST_PREFIX + str(next(_request_numbers)).zfill(32)
    return {
        "RequestId": request_id,
        "HTTPStatusCode": 200,
        "HTTPHeaders": {
            "server": "pizzabus",
            "content-type": "application/x-amz-json-1.0",
            "x-amzn-requestid": request_id,
        },
        "RetryAttempts": 0,
    }


_PLAIN = frozenset({str, bool, type(None), Decimal})


def _to_boto(item: dict[str, Any]) -> dict[str, Any]:
    """The store's values as boto3 returns them (``bytes`` become ``Binary``), in place."""
    for name, value in item.items():
        if type(value) not in _PLAIN:
            item[name] = _value_to_boto(value)
    return item


def _value_to_boto(value: Any) -> Any:
    kind = type(value)
    if kind is bytes:
        return Binary(value)
    if kind is dict:
        return _to_boto(value)
    if kind is list:
        return [_value_to_boto(v) for v in value]
    if kind is set and value and type(next(iter(value))) is bytes:
        return {Binary(v) for v in value}
    return value


__all__ = ["BatchWriter", "DynamoDBResource", "LocalTable"]
