"""DynamoDB-shaped tables for the embedded runtime.

    store.py        the TableStore Protocol (the seam) and Page
    engine.py       DynamoDB's semantics, once, over a backend's storage hooks
    memory.py       MemoryTableStore: dicts and sorted lists (``--memory``, tests)
    sqlite.py       SqliteTableStore: one SQLite file under the data directory (the default)
    values.py       attribute values: accepted types, canonical numbers, item size
    keys.py         key schemas, and a KeyConditionExpression read as a key range
    expr_parser.py  the expression language, parsed once per text
    conditions.py   condition trees and their evaluation
    updates.py      SET / REMOVE / ADD / DELETE
    paths.py        document paths: read, write, project
    expressions.py  binding ExpressionAttributeNames/Values to a request's expressions
    shapes.py       what a request's expressions and names decide, kept per shape
    ordering.py     key values as bytes that sort as DynamoDB sorts
    codec.py        items as DynamoDB JSON text
    transactions.py TransactWriteItems' actions and its cancellation
    errors.py       the errors, with DynamoDB's codes

Handlers do not use this package directly: they use ``boto3.resource("dynamodb")``, which the
runtime answers with :class:`pizzabus.sdk.dynamodb.DynamoDBResource` over one of these stores.
"""

from pizzabus.tables.errors import ConditionalCheckFailed, TableNotFound, TableValidationError
from pizzabus.tables.memory import MemoryTableStore
from pizzabus.tables.sqlite import SqliteTableStore
from pizzabus.tables.store import Page, ReturnValues, TableStore
from pizzabus.tables.transactions import TransactionCanceled, TransactWrite

__all__ = [
    "ConditionalCheckFailed",
    "MemoryTableStore",
    "Page",
    "ReturnValues",
    "SqliteTableStore",
    "TableNotFound",
    "TableStore",
    "TableValidationError",
    "TransactWrite",
    "TransactionCanceled",
]
