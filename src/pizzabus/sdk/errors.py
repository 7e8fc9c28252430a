"""Translation of pizzabus errors into what boto3 raises: ``botocore.exceptions.ClientError``."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pizzabus.errors import PizzabusError


def client_error(code: str, message: str, operation: str, status: int = 400) -> ClientError:
    """A ``ClientError`` shaped exactly as botocore builds it from an AWS error response."""
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


def translate(error: PizzabusError, operation: str) -> ClientError:
    """The ``ClientError`` for one of pizzabus's own errors."""
    return client_error(error.code, error.message, operation, error.status)
