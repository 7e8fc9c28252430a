"""A request and an answer as the AWS services here see them, and AWS's error shapes.

botocore reads an error's code from ``__type`` (the part after ``#``) in the JSON protocols,
from ``x-amzn-ErrorType`` in the REST protocols, and from ``x-amzn-query-error`` where a
service moved from the Query protocol to JSON (SQS): each service answers in its own shape so
that the SDKs raise the modeled exception classes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pizzabus.errors import PizzabusError


class AwsError(PizzabusError):
    """An error as an AWS service answers it: its code, message and HTTP status."""

    def __init__(
        self, code: str, message: str, status: int = 400, fields: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.status = status
        #: Members of the error beyond its message (DynamoDB's ``CancellationReasons``).
        self.fields = fields or {}


def unknown_operation(service: str, operation: str, served: list[str]) -> AwsError:
    """The error for an operation this service does not implement."""
    return AwsError(
        "UnknownOperationException",
        f"pizzabus does not implement {service} {operation or '(no operation named)'}; it serves "
        f"{', '.join(sorted(served))}",
    )


@dataclass(frozen=True)
class AwsRequest:
    """One AWS API call: the HTTP request, and the operation its target names (if any)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    operation: str = ""
    region: str = "us-east-1"

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; an empty body is ``{}``."""
        if not self.body.strip():
            return {}
        try:
            parsed = json.loads(self.body)
        except ValueError as error:
            raise AwsError(
                "SerializationException", f"The request body is not valid JSON: {error}"
            ) from None
        if not isinstance(parsed, dict):
            raise AwsError(
                "SerializationException",
                f"The request body must be a JSON object, not {type(parsed).__name__}",
            )
        return parsed


@dataclass
class AwsResponse:
    """An HTTP answer: status, headers and body."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def asgi_headers(self) -> list[tuple[bytes, bytes]]:
        request_id = str(uuid.uuid4())
        headers = {
            "x-amzn-requestid": request_id,
            "content-length": str(len(self.body)),
            **self.headers,
        }
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


def json_response(
    payload: Any, content_type: str, status: int = 200, headers: Mapping[str, str] | None = None
) -> AwsResponse:
    """A JSON answer with the protocol's content type."""
    return AwsResponse(
        status,
        json.dumps(payload, separators=(",", ":")).encode(),
        {"content-type": content_type, **(headers or {})},
    )


def json_error(error: AwsError, namespace: str, content_type: str) -> AwsResponse:
    """The JSON protocols' error: ``{"__type": "<namespace>#<code>", "message": …}``; these
    services answer every client error with 400, except a refused signature (403) and a body
    too large (413)."""
    status = error.status if error.status >= 500 or error.status in (403, 413) else 400
    return json_response(
        {"__type": f"{namespace}#{error.code}", "message": error.message, **error.fields},
        content_type,
        status,
    )


def rest_error(error: AwsError) -> AwsResponse:
    """The REST-JSON protocols' error: the code in ``x-amzn-ErrorType``."""
    return json_response(
        {"Type": "User" if error.status < 500 else "Service", "message": error.message},
        "application/json",
        error.status,
        {"x-amzn-ErrorType": error.code},
    )


def from_pizzabus(error: PizzabusError) -> AwsError:
    """One of pizzabus's own errors, with its AWS code and status."""
    if isinstance(error, AwsError):
        return error
    return AwsError(error.code, error.message, error.status)
