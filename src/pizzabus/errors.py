"""The root of every error pizzabus raises on purpose.

    PizzabusError
    ├── DefinitionError        a system definition is inconsistent (names, references)
    ├── ValidationError        a request is malformed; carries an AWS error code
    ├── NotFoundError          a named thing (function, table, connection) does not exist
    └── ...                    each package adds its own in its ``errors`` module

Internals raise these; only the boto3-shaped clients in ``pizzabus.sdk`` translate them into
``botocore.exceptions.ClientError`` with AWS's codes, and only the CLI and the gateway turn them
into messages for people. Every message says what was wrong and how to fix it.
"""

from __future__ import annotations


class PizzabusError(Exception):
    """Base class of pizzabus's own errors."""

    #: The AWS error code a boto3-shaped client reports for this error.
    code: str = "InternalFailure"
    #: The HTTP status AWS would answer with.
    status: int = 500

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class DefinitionError(PizzabusError):
    """A system definition refers to something that does not exist, or repeats a name."""

    code = "InvalidDefinition"


class ValidationError(PizzabusError):
    """A request does not have the shape AWS requires."""

    code = "ValidationException"
    status = 400


class NotFoundError(PizzabusError):
    """A named resource does not exist."""

    code = "ResourceNotFoundException"
    status = 404
