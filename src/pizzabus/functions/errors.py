"""How an invocation fails, in Lambda's terms (``errorType``, ``errorMessage``, ``stackTrace``)."""

from __future__ import annotations

from typing import Any

from pizzabus.errors import PizzabusError


class FunctionError(PizzabusError):
    """The handler failed: it raised, exited, returned something that is not JSON, or its
    module could not be loaded. ``error_type`` is what Lambda would report as ``errorType``."""

    code = "Unhandled"

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.stack_trace = stack_trace or []

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}"

    def payload(self) -> dict[str, Any]:
        """The error as Lambda returns it to a synchronous caller."""
        return {
            "errorMessage": self.message,
            "errorType": self.error_type,
            "stackTrace": self.stack_trace,
        }


class FunctionTimedOut(FunctionError):
    """The handler ran past the function's timeout."""

    def __init__(self, request_id: str, timeout_seconds: float) -> None:
        super().__init__(
            "Sandbox.Timedout",
            f"RequestId: {request_id} Error: Task timed out after {timeout_seconds:.2f} seconds",
        )


class InvocationInterrupt(BaseException):
    """Raised inside a handler's thread to stop it after its timeout.

    A ``BaseException`` so that a handler's ``except Exception`` does not swallow it.
    """
