"""What handlers print, attributed as CloudWatch Logs would attribute it.

On Lambda a handler's ``print`` lands in its function's log stream, next to the request id. Here
every function shares the server's output, so :func:`install` wraps ``sys.stdout`` and
``sys.stderr``: a line written during an invocation is prefixed with the function's name and the
start of its request id (``[cook_pizza 3f2a9c1e] …``); other output passes through untouched.

A caller that wants what one invocation logged (Lambda's ``LogType: Tail``) gives the runtime an
:class:`InvocationLog`; the runtime registers it under the invocation's request id
(:func:`collect`), and the lines the handler writes are kept there too.
"""

from __future__ import annotations

import io
import sys
import threading
from contextvars import ContextVar
from typing import TextIO

_current: ContextVar[str | None] = ContextVar("pizzabus_invocation_prefix", default=None)
_sink: ContextVar[InvocationLog | None] = ContextVar("pizzabus_invocation_log", default=None)


class InvocationLog:
    """What one invocation wrote (whole lines, without the attribution prefix)."""

    __slots__ = ("_parts", "request_id")

    def __init__(self) -> None:
        #: The invocation's request id, once it has started.
        self.request_id = ""
        self._parts: list[str] = []

    def write(self, text: str) -> None:
        self._parts.append(text)

    def text(self) -> str:
        return "".join(self._parts)


#: Request id → the log its caller collects (only invocations whose caller asked).
_collecting: dict[str, InvocationLog] = {}


def collect(request_id: str, log: InvocationLog) -> None:
    """Keep what the invocation ``request_id`` writes in ``log`` (until :func:`release`)."""
    log.request_id = request_id
    _collecting[request_id] = log


def release(request_id: str) -> None:
    """Stop collecting the invocation's output."""
    _collecting.pop(request_id, None)


class AttributedStream(io.TextIOBase):
    """A text stream that prefixes each whole line written during an invocation."""

    def __init__(self, underlying: TextIO) -> None:
        self.underlying = underlying
        self._partial = threading.local()

    def write(self, text: str) -> int:
        prefix = _current.get()
        if prefix is None:
            return self.underlying.write(text)
        pending: str = getattr(self._partial, "text", "") + text
        *lines, rest = pending.split("\n")
        self._partial.text = rest
        if lines:
            self.underlying.write("".join(f"{prefix} {line}\n" for line in lines))
            sink = _sink.get()
            if sink is not None:
                sink.write("".join(f"{line}\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        self.underlying.flush()

    def end_invocation(self) -> None:
        """Write out a last line the handler left without a newline."""
        rest = getattr(self._partial, "text", "")
        if rest:
            self._partial.text = ""
            self.write(rest + "\n")

    def isatty(self) -> bool:
        return self.underlying.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.underlying, "encoding", "utf-8")

    def fileno(self) -> int:
        return self.underlying.fileno()


def install() -> None:
    """Attribute handler output on ``sys.stdout`` and ``sys.stderr`` (idempotent)."""
    if not isinstance(sys.stdout, AttributedStream):
        sys.stdout = AttributedStream(sys.stdout)
    if not isinstance(sys.stderr, AttributedStream):
        sys.stderr = AttributedStream(sys.stderr)


def begin(function: str, request_id: str) -> None:
    """Attribute what the calling thread writes to this invocation."""
    _current.set(f"[{function} {request_id[:8]}]")
    _sink.set(_collecting.get(request_id))


def end() -> None:
    """Stop attributing; flush a last partial line."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, AttributedStream):
            stream.end_invocation()
    _current.set(None)
    _sink.set(None)
