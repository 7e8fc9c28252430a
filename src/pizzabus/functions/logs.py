"""What handlers print, attributed as CloudWatch Logs would attribute it.

On Lambda a handler's ``print`` lands in its function's log stream, next to the request id. Here
every function shares the server's output, so :func:`install` wraps ``sys.stdout`` and
``sys.stderr``: a line written during an invocation is prefixed with the function's name and the
start of its request id (``[cook_pizza 3f2a9c1e] …``); other output passes through untouched.

When the runtime writes Lambda's ``START`` line for each invocation (buffered, see
``pizzabus.telemetry.invocation_log``), :func:`announce_with` lets it write that line before an
invocation's first line of output, so the order on screen is Lambda's.

A caller that wants what one invocation logged (Lambda's ``LogType: Tail``) gives the runtime an
:class:`InvocationLog`; the runtime registers it under the invocation's request id
(:func:`collect`), and the lines the handler writes are kept there too.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import TextIO

#: Called with (function, request id) before an invocation's first line of output.
Announcer = Callable[[str, str], None]


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


class _Invocation:
    __slots__ = ("announced", "function", "prefix", "request_id", "sink")

    def __init__(self, function: str, request_id: str) -> None:
        self.function = function
        self.request_id = request_id
        self.prefix = f"[{function} {request_id[:8]}]"
        self.announced = False
        self.sink = _collecting.get(request_id)


_current: ContextVar[_Invocation | None] = ContextVar("pizzabus_invocation", default=None)


class WrappedStream(io.TextIOBase):
    """A text stream that rewrites what is written to ``underlying`` (its subclass's
    ``write``) and is otherwise ``underlying`` itself: flushing, being a terminal, encoding and
    file descriptor are the wrapped stream's, so code probing ``sys.stdout`` sees the real one."""

    def __init__(self, underlying: TextIO) -> None:
        self.underlying = underlying

    def flush(self) -> None:
        self.underlying.flush()

    def isatty(self) -> bool:
        return self.underlying.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.underlying, "encoding", "utf-8")

    def fileno(self) -> int:
        return self.underlying.fileno()


class AttributedStream(WrappedStream):
    """A text stream that prefixes each whole line written during an invocation."""

    def __init__(self, underlying: TextIO) -> None:
        super().__init__(underlying)
        self._partial = threading.local()
        self.announce: Announcer | None = None

    def write(self, text: str) -> int:
        invocation = _current.get()
        if invocation is None:
            return self.underlying.write(text)
        prefix = invocation.prefix
        if not invocation.announced:
            invocation.announced = True
            if self.announce is not None:
                self.announce(invocation.function, invocation.request_id)
        pending: str = getattr(self._partial, "text", "") + text
        *lines, rest = pending.split("\n")
        self._partial.text = rest
        if lines:
            self.underlying.write("".join(f"{prefix} {line}\n" for line in lines))
            if invocation.sink is not None:
                invocation.sink.write("".join(f"{line}\n" for line in lines))
        return len(text)

    def end_invocation(self) -> None:
        """Write out a last line the handler left without a newline."""
        rest = getattr(self._partial, "text", "")
        if rest:
            self._partial.text = ""
            self.write(rest + "\n")


def install() -> None:
    """Attribute handler output on ``sys.stdout`` and ``sys.stderr`` (idempotent)."""
    if not isinstance(sys.stdout, AttributedStream):
        sys.stdout = AttributedStream(sys.stdout)
    if not isinstance(sys.stderr, AttributedStream):
        sys.stderr = AttributedStream(sys.stderr)


def announce_with(announcer: Announcer | None) -> None:
    """Call ``announcer`` before each invocation's first line of output (None: nothing)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, AttributedStream):
            stream.announce = announcer


def begin(function: str, request_id: str) -> None:
    """Attribute what the calling thread writes to this invocation."""
    _current.set(_Invocation(function, request_id))


def end() -> None:
    """Stop attributing; flush a last partial line."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, AttributedStream):
            stream.end_invocation()
    _current.set(None)
