"""Journey traces: spans grouped by trace id, the last traces kept, searchable by event detail.

A span is one step of a journey: the HTTP request, an event put on a bus, a rule's match, an
invocation, a push to a WebSocket connection, a retry or a dead letter. Spans point at their
parent, so a trace is a tree (request → event → match → invocation → event … → push).

Retention is bounded twice: at most ``max_traces`` traces and about ``max_bytes`` of span data;
the oldest trace goes first. Recording is one append under a lock (handlers record from their
own threads); reading copies what it returns.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

#: The kinds of span, in the order a journey meets them.
KINDS = ("request", "event", "match", "invocation", "push", "retry", "dead_letter")

#: The default bounds of the trace store. 8 MB holds about 900 orders' journeys (~9 KB each):
#: hours of a person's clicking, a minute and a half of a load at the default reservoir of 10
#: journeys a second. Larger, a server's memory kept growing for many minutes of load before
#: the store was full (32 MB took six), which reads as a leak.
DEFAULT_MAX_TRACES = 5_000
DEFAULT_MAX_BYTES = 8 * 1024 * 1024

#: How much of an event's detail a span keeps (for search and display).
MAX_DETAIL_CHARS = 8_192
#: What a span holds besides an event's detail, in bytes (for the size bound): its object, ids,
#: times and attributes, measured with sys.getsizeof on the lab's journeys (test_traces).
SPAN_BYTES = 440


@dataclass(slots=True)
class Span:
    """One step of a journey."""

    trace_id: str
    span_id: str
    parent: str | None
    kind: str
    name: str
    start: float  # epoch seconds
    duration_ms: float
    outcome: str  # "ok", or what went wrong ("error", "timeout", "gone", …)
    attributes: dict[str, Any] = field(default_factory=dict)

    def size(self) -> int:
        """Roughly the bytes this span holds (for the store's bound)."""
        detail = self.attributes.get("detail")
        return SPAN_BYTES + (len(detail) if isinstance(detail, str) else 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "span_id": self.span_id,
            "parent": self.parent,
            "start": self.start,
            "duration_ms": round(self.duration_ms, 3),
            "outcome": self.outcome,
            **self.attributes,
        }


class _Trace:
    __slots__ = ("bytes", "spans")

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.bytes = 0


class TraceStore:
    """The most recent traces, bounded by count and by size."""

    def __init__(
        self, max_traces: int = DEFAULT_MAX_TRACES, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.max_traces = max_traces
        self.max_bytes = max_bytes
        self._traces: dict[str, _Trace] = {}
        # Oldest first (evicting with next(iter(dict)) would rescan the dict's deleted slots).
        self._order: deque[str] = deque()
        self._bytes = 0
        self._lock = threading.Lock()
        #: Traces dropped to keep within the bounds.
        self.evicted = 0

    def add(self, span: Span) -> None:
        self.add_all(span.trace_id, (span,), span.size())

    def add_all(self, trace_id: str, spans: tuple[Span, ...], size: int) -> None:
        """Add spans of one trace, ``size`` bytes together (one lock for them all)."""
        with self._lock:
            traces = self._traces
            trace = traces.get(trace_id)
            if trace is None:
                trace = traces[trace_id] = _Trace()
                self._order.append(trace_id)
            trace.spans.extend(spans)
            trace.bytes += size
            self._bytes += size
            while len(traces) > self.max_traces or (
                self._bytes > self.max_bytes and len(traces) > 1
            ):
                oldest = traces.pop(self._order.popleft())
                self._bytes -= oldest.bytes
                self.evicted += 1

    def __len__(self) -> int:
        return len(self._traces)

    @property
    def size(self) -> int:
        """About how many bytes of memory the kept spans take (what ``max_bytes`` bounds)."""
        return self._bytes

    def spans(self, trace_id: str) -> list[Span] | None:
        """The spans of a trace, in the order they were recorded; None if not kept."""
        with self._lock:
            trace = self._traces.get(trace_id)
            return None if trace is None else list(trace.spans)

    def search(self, text: str, limit: int = 100) -> list[str]:
        """Ids of the traces (newest first) with an event whose detail contains ``text``."""
        with self._lock:
            traces = list(self._traces.items())
        found: list[str] = []
        for trace_id, trace in reversed(traces):
            if any(
                span.kind == "event" and text in span.attributes.get("detail", "")
                for span in list(trace.spans)
            ):
                found.append(trace_id)
                if len(found) >= limit:
                    break
        return found

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        """A summary of the newest traces: when, how long, how many spans, how it went."""
        with self._lock:
            newest = list(self._traces.items())[-limit:]
        return [summary(trace_id, list(trace.spans)) for trace_id, trace in reversed(newest)]


def summary(trace_id: str, spans: list[Span]) -> dict[str, Any]:
    """One line about a trace."""
    start = min(s.start for s in spans)
    end = max(s.start + s.duration_ms / 1000 for s in spans)
    first_event = next((s for s in spans if s.kind == "event"), None)
    failed = [s for s in spans if s.outcome != "ok"]
    return {
        "trace_id": trace_id,
        "start": start,
        "duration_ms": round((end - start) * 1000, 3),
        "spans": len(spans),
        "counts": {kind: sum(1 for s in spans if s.kind == kind) for kind in KINDS},
        "first_event": first_event.name if first_event else None,
        "outcome": "ok" if not failed else failed[-1].outcome,
    }


def document(trace_id: str, spans: list[Span]) -> dict[str, Any]:
    """A trace as ``GET /_pizzabus/traces/{trace_id}`` answers it."""
    ordered = sorted(spans, key=lambda s: s.start)
    return {"trace_id": trace_id, "spans": [s.to_json() for s in ordered]}
