"""The errors of the table stores, each carrying the code DynamoDB answers with.

    PizzabusError
    ├── ValidationError
    │   └── TableValidationError       ValidationException (a malformed request or item)
    ├── NotFoundError
    │   └── TableNotFound              ResourceNotFoundException (no such table)
    ├── ConditionalCheckFailed         ConditionalCheckFailedException (a condition was false)
    └── TableUnavailable               ServiceUnavailable (a shared store cannot be reached; retry)

Messages follow DynamoDB's wording, so code that inspects them behaves as it would on AWS;
where DynamoDB's own message does not say enough to fix the problem, details follow it.
"""

from __future__ import annotations

from typing import Any

from pizzabus.errors import NotFoundError, PizzabusError, ValidationError


class TableValidationError(ValidationError):
    """A request, an expression or an item that DynamoDB would refuse."""


class TableNotFound(NotFoundError):
    """The named table was never created in this store."""

    def __init__(self, name: str, known: list[str]) -> None:
        have = ", ".join(sorted(known)) or "none"
        super().__init__(
            f"Requested resource not found: Table: {name} not found "
            f"(this store has: {have}; tables come from the system definition)"
        )
        self.table = name


class ConditionalCheckFailed(PizzabusError):
    """A ConditionExpression was false for the item as it was; nothing was written.

    ``item`` is the item as it was (``None`` when there was none), for
    ``ReturnValuesOnConditionCheckFailure="ALL_OLD"``.
    """

    code = "ConditionalCheckFailedException"
    status = 400

    def __init__(self, item: dict[str, Any] | None = None) -> None:
        super().__init__("The conditional request failed")
        self.item = item


class TableUnavailable(PizzabusError):
    """The store could not be reached (a shared store's server is down or unreachable).

    The operation was not applied, or applied whole: each write is one atomic statement. The
    caller may retry; the bus retries a failed invocation, as Lambda's async invoke does.
    """

    code = "ServiceUnavailable"
    status = 503
