"""The Invoker seam: how the bus and the gateway run a function, wherever it runs.

``invoke`` runs an invocation and answers its result (or raises ``FunctionError``).
``invoke_now`` is the fast path of a runtime that can run some invocations right here, on the
caller's thread, without a task: it answers the result, or :data:`NOT_NOW` when the invocation
must go through ``invoke`` instead. A runtime without such a path (a remote one) always answers
:data:`NOT_NOW`; callers never need to know which runtime they have.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

#: Invokes a function by name on an event (JSON bytes).
Invoke = Callable[[str, bytes], Awaitable[Any]]
#: Invokes it at once if it can, or answers :data:`NOT_NOW`.
InvokeNow = Callable[[str, bytes], Any]


class _NotNow:
    def __repr__(self) -> str:
        return "NOT_NOW"


#: What :meth:`Invoker.invoke_now` answers when the invocation must wait its turn.
NOT_NOW: Any = _NotNow()


class Invoker(Protocol):
    """Runs functions by name."""

    async def invoke(self, name: str, payload: bytes) -> Any:
        """Run ``name`` on ``payload`` (the event as JSON); its result, or FunctionError."""

    def invoke_now(self, name: str, payload: bytes) -> Any:
        """Run it here and now if this runtime can; :data:`NOT_NOW` otherwise."""


class Invocations:
    """An :class:`Invoker` made of two callables (``invoke_now`` optional)."""

    def __init__(self, invoke: Invoke, invoke_now: InvokeNow | None = None) -> None:
        self._invoke = invoke
        self._invoke_now = invoke_now

    async def invoke(self, name: str, payload: bytes) -> Any:
        return await self._invoke(name, payload)

    def invoke_now(self, name: str, payload: bytes) -> Any:
        if self._invoke_now is None:
            return NOT_NOW
        return self._invoke_now(name, payload)
