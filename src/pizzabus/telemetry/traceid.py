"""X-Ray trace ids and trace headers, and the trace of what runs now.

A trace id is ``1-<epoch seconds, 8 hex>-<96 random bits, 24 hex>``; a span (X-Ray's segment)
id is 16 hex digits. A trace header, as EventBridge's ``TraceHeader`` and Lambda's
``_X_AMZN_TRACE_ID`` carry it, is ``Root=<trace id>;Parent=<span id>;Sampled=1``.

As X-Ray does, a journey is recorded only when sampled (:class:`Sampler`: every one up to a
number a second, then a fraction of the rest); an unsampled one carries ``Sampled=0`` along, so
nothing downstream records it either (:data:`UNSAMPLED`).
"""

from __future__ import annotations

import itertools
import os
import random
import re
from contextvars import ContextVar

from pizzabus.errors import ValidationError

#: The HTTP header API Gateway reads and returns.
HTTP_HEADER = "X-Amzn-Trace-Id"
#: The variable Lambda sets for each invocation (botocore sends it on as the trace header).
ENV_VAR = "_X_AMZN_TRACE_ID"

#: A place in a trace: (trace id, parent span id).
Position = tuple[str, str | None]

#: The place of everything in a journey that is not sampled.
UNSAMPLED: Position = ("", None)
#: What an invocation of an unsampled journey sees as its trace header.
UNSAMPLED_HEADER = "Root=1-00000000-000000000000000000000000;Sampled=0"

#: Where in a trace the current task or callback is (a request, a delivery): the function
#: runtime reads it to parent an invocation. A tuple, not a header: nothing to parse.
current: ContextVar[Position | None] = ContextVar("pizzabus_trace", default=None)

# The header as pizzabus itself writes it: parsed with one match.
_OWN = re.compile(r"Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=1")


# Ids need to be unique, not unpredictable: a generator seeded once from os.urandom, not a
# system call per id (which also lets go of the GIL on the loop's thread).
_bits = random.Random().getrandbits


def new_trace_id(now: float) -> str:
    """A new X-Ray trace id, stamped with ``now`` (epoch seconds)."""
    return f"1-{int(now):08x}-{_bits(96):024x}"


# Span ids: a random 32-bit prefix per process and a counter, so ids are unique across
# processes and cost no system call each.
_prefix = int.from_bytes(os.urandom(4), "big") << 32
_serial = itertools.count(1)


def new_span_id() -> str:
    """A new 16-hex-digit span id."""
    return f"{_prefix | (next(_serial) & 0xFFFFFFFF):016x}"


def header(root: str, parent: str | None) -> str:
    """The trace header of a span ``parent`` in trace ``root`` (or of :data:`UNSAMPLED`)."""
    if not root:
        return UNSAMPLED_HEADER
    if parent is None:
        return f"Root={root};Sampled=1"
    return f"Root={root};Parent={parent};Sampled=1"


def parse(value: object) -> Position | None:
    """``(root, parent)`` of a trace header, :data:`UNSAMPLED` for ``Sampled=0``, or None when
    it has no usable ``Root``."""
    if not isinstance(value, str) or len(value) > 256:
        return None
    own = _OWN.fullmatch(value)
    if own is not None:
        return own.group(1), own.group(2)
    if value.endswith("Sampled=0"):
        return UNSAMPLED
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


#: How many new journeys a second are always traced (X-Ray's reservoir); the rest at ``rate``.
TRACES_PER_SECOND_ENV = "PIZZABUS_TRACES_PER_SECOND"


def _reservoir() -> int:
    raw = os.environ.get(TRACES_PER_SECOND_ENV, "10")
    if not raw.isdigit():
        raise ValidationError(
            f"{TRACES_PER_SECOND_ENV}={raw!r} is not a whole number of journeys a second; "
            "unset it (10) or give e.g. 1000 to trace every journey of a load."
        )
    return int(raw)


class Sampler:
    """Which new journeys are recorded: all of the first ``per_second`` each second, then
    ``rate`` of the rest (X-Ray's reservoir and fixed rate), so a person's orders are always
    traced and a load test's cost stays bounded."""

    def __init__(
        self, per_second: int | None = None, rate: float = 0.05, seed: int | None = None
    ) -> None:
        self.per_second = _reservoir() if per_second is None else per_second
        self.rate = rate
        self._second = -1
        self._taken = 0
        self._random = random.Random(seed)

    def sample(self, now: float) -> bool:
        second = int(now)
        if second != self._second:
            self._second = second
            self._taken = 0
        if self._taken < self.per_second:
            self._taken += 1
            return True
        return self._random.random() < self.rate
