"""X-Ray trace ids and trace headers, and the trace of what runs now.

A trace id is ``1-<epoch seconds, 8 hex>-<96 random bits, 24 hex>``; a span (X-Ray's segment)
id is 16 hex digits. A trace header, as EventBridge's ``TraceHeader`` and Lambda's
``_X_AMZN_TRACE_ID`` carry it, is ``Root=<trace id>;Parent=<span id>;Sampled=1``.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
from contextvars import ContextVar

#: The HTTP header API Gateway reads and returns.
HTTP_HEADER = "X-Amzn-Trace-Id"
#: The variable Lambda sets for each invocation (botocore sends it on as the trace header).
ENV_VAR = "_X_AMZN_TRACE_ID"

#: A place in a trace: (trace id, parent span id).
Position = tuple[str, str | None]

#: Where in a trace the current task or callback is (a request, a delivery): the function
#: runtime reads it to parent an invocation. A tuple, not a header: nothing to parse.
current: ContextVar[Position | None] = ContextVar("pizzabus_trace", default=None)

# The header as pizzabus itself writes it: parsed with one match.
_OWN = re.compile(r"Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=1")


def new_trace_id(now: float) -> str:
    """A new X-Ray trace id, stamped with ``now`` (epoch seconds)."""
    return f"1-{int(now):08x}-{secrets.token_hex(12)}"


# Span ids: a random 32-bit prefix per process and a counter, so ids are unique across
# processes and cost no system call each.
_prefix = int.from_bytes(os.urandom(4), "big") << 32
_serial = itertools.count(1)


def new_span_id() -> str:
    """A new 16-hex-digit span id."""
    return f"{_prefix | (next(_serial) & 0xFFFFFFFF):016x}"


def header(root: str, parent: str | None) -> str:
    """The trace header of a span ``parent`` in trace ``root``."""
    if parent is None:
        return f"Root={root};Sampled=1"
    return f"Root={root};Parent={parent};Sampled=1"


def parse(value: object) -> tuple[str, str | None] | None:
    """``(root, parent)`` of a trace header, or None when it has no usable ``Root``."""
    if not isinstance(value, str) or len(value) > 256:
        return None
    own = _OWN.fullmatch(value)
    if own is not None:
        return own.group(1), own.group(2)
    root: str | None = None
    parent: str | None = None
    for part in value.split(";"):
        key, _, item = part.strip().partition("=")
        if key == "Root" and _valid_root(item):
            root = item
        elif key == "Parent" and item:
            parent = item
    return None if root is None else (root, parent)


def _valid_root(value: str) -> bool:
    parts = value.split("-")
    return (
        len(parts) == 3
        and parts[0] == "1"
        and len(parts[1]) == 8
        and len(parts[2]) == 24
        and all(c in "0123456789abcdef" for c in parts[1] + parts[2])
    )
