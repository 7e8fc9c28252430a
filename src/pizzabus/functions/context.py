"""The ``context`` object a handler receives, with Lambda's own attribute names."""

from __future__ import annotations

from collections.abc import Callable


class LambdaContext:
    """What ``awslambdaric`` gives a Python handler as ``context``.

    Like the real one, ``memory_limit_in_mb`` is the string of the
    ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE`` variable.
    """

    __slots__ = (
        "_deadline",
        "_now",
        "aws_request_id",
        "client_context",
        "function_name",
        "function_version",
        "identity",
        "invoked_function_arn",
        "log_group_name",
        "log_stream_name",
        "memory_limit_in_mb",
    )

    def __init__(
        self,
        *,
        aws_request_id: str,
        function_name: str,
        invoked_function_arn: str,
        memory_limit_in_mb: int,
        log_group_name: str,
        log_stream_name: str,
        deadline: float,
        now: Callable[[], float],
        function_version: str = "$LATEST",
    ) -> None:
        self.aws_request_id = aws_request_id
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = str(memory_limit_in_mb)
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        self.client_context = None
        self.identity = None
        self._deadline = deadline
        self._now = now

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the invocation times out (never negative)."""
        return max(0, int((self._deadline - self._now()) * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext({self.function_name!r}, aws_request_id={self.aws_request_id!r})"
