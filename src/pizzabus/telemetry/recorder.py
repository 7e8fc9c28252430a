"""The seam: what the runtime reports, in one call per thing that happened.

:class:`Recorder` is the Protocol every part of a runtime reports to; :class:`Telemetry` is the
one that logs, counts and traces; :data:`NO_TELEMETRY` does nothing (the default, so the parts
work alone and in tests). A distributed gateway or worker passes its own.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pizzabus.telemetry import traceid
from pizzabus.telemetry.invocation_log import InvocationLog
from pizzabus.telemetry.metrics import _ATTEMPT, _INVOKED, _MESSAGE, _PUT, Metrics
from pizzabus.telemetry.spans import MAX_DETAIL_CHARS, SPAN_BYTES, Span, TraceStore

#: Seconds of per-second samples kept for the console's charts.
SERIES_SECONDS = 300


@dataclass(slots=True)
class OpenInvocation:
    """An invocation under way in a trace: its span id and the header its handler sees."""

    root: str
    parent: str | None
    span_id: str
    header: str
    start: float


class Recorder(Protocol):
    """What the runtime tells its telemetry."""

    def sample(self) -> bool:
        """Whether a new journey (an HTTP request's) is traced."""

    def begin_invocation(self) -> OpenInvocation | None:
        """An invocation starts, in the trace of the caller (:data:`traceid.current`)."""

    def invoked(
        self,
        function: str,
        request_id: str,
        memory_mb: int,
        duration: float,
        init: float | None,
        error: Any | None,
        trace: OpenInvocation | None,
    ) -> None:
        """An invocation finished; ``error`` is a ``FunctionError`` when it failed."""

    def invocation_throttled(self, function: str) -> None:
        """An invocation had to wait for a free execution environment."""

    def published(
        self,
        bus: str,
        event: dict[str, Any],
        detail_text: str,
        rules: Sequence[str],
        trace_header: str | None,
    ) -> dict[str, traceid.Position] | None:
        """An event was put on ``bus`` and matched ``rules``: where in the trace each rule's
        deliveries are, or None when not tracing."""

    def event_throttled(self, bus: str) -> None:
        """A PutEvents entry was refused: the bus was full."""

    def delivered(self, rule: str, target: str) -> None:
        """A delivery's attempt succeeded."""

    def retrying(
        self,
        rule: str,
        target: str,
        trace: traceid.Position | None,
        attempt: int,
        error: Any,
        delay: float,
    ) -> None:
        """A delivery's attempt failed; it is retried after ``delay`` seconds."""

    def dead_lettered(
        self,
        rule: str,
        target: str,
        trace: traceid.Position | None,
        attempts: int,
        reason: str,
        error: Any,
    ) -> None:
        """A delivery ran out of retries and went to the dead-letter queue."""

    def pushed(self, connection_id: str, size: int, outcome: str, trace: str | None) -> None:
        """A handler posted ``size`` bytes to a connection (``ok``, ``GoneException``, …);
        ``trace`` is the trace header the call carried."""

    def request(
        self,
        api: str,
        route: str,
        status: int,
        trace: tuple[str, str, str | None],
        start: float,
        duration: float,
    ) -> None:
        """An HTTP API request was answered; ``trace`` is (root, span id, parent)."""

    def message_received(self) -> None:
        """A WebSocket message arrived from a client."""


class NullRecorder:
    """Records nothing."""

    def sample(self) -> bool:
        return False

    def begin_invocation(self) -> OpenInvocation | None:
        return None

    def invoked(self, *args: Any) -> None:
        pass

    def invocation_throttled(self, function: str) -> None:
        pass

    def published(self, *args: Any) -> dict[str, traceid.Position] | None:
        return None

    def event_throttled(self, bus: str) -> None:
        pass

    def delivered(self, rule: str, target: str) -> None:
        pass

    def retrying(self, *args: Any) -> None:
        pass

    def dead_lettered(self, *args: Any) -> None:
        pass

    def pushed(self, *args: Any) -> None:
        pass

    def request(self, *args: Any) -> None:
        pass

    def message_received(self) -> None:
        pass


NO_TELEMETRY = NullRecorder()


def _drop(item: tuple[Any, ...]) -> None:
    pass


#: An invocation in an unsampled journey: its handler sees ``Sampled=0``; nothing is recorded.
_UNSAMPLED_INVOCATION = OpenInvocation("", None, "", traceid.UNSAMPLED_HEADER, 0.0)


class Telemetry:
    """Invocation logs, metrics and traces of one server."""

    def __init__(
        self,
        *,
        log: InvocationLog | None = None,
        traces: TraceStore | None = None,
        now: Callable[[], float] = time.time,
        sampler: traceid.Sampler | None = None,
    ) -> None:
        """``log``: None writes no invocation lines (``--quiet``); ``traces``: None keeps
        no traces; ``sampler`` picks the journeys traced."""
        self.log = log
        self.traces = traces
        self.sampler = sampler or traceid.Sampler()
        self.metrics = Metrics()
        self._counted = self.metrics.record
        self._logged = log.record_raw if log is not None else _drop
        self.now = now
        #: Per-second samples of the totals, newest last: (epoch second, totals).
        self.series: deque[tuple[float, dict[str, int]]] = deque(maxlen=SERIES_SECONDS)
        self._last_totals: dict[str, int] | None = None

    # --- functions -----------------------------------------------------------------------

    def sample(self) -> bool:
        return self.traces is not None and self.sampler.sample(self.now())

    def begin_invocation(self) -> OpenInvocation | None:
        if self.traces is None:
            return None
        caller = traceid.current.get()
        if caller is None:
            return None
        root, parent = caller
        if not root:
            return _UNSAMPLED_INVOCATION
        span_id = traceid.new_span_id()
        return OpenInvocation(root, parent, span_id, traceid.header(root, span_id), self.now())

    def invoked(
        self,
        function: str,
        request_id: str,
        memory_mb: int,
        duration: float,
        init: float | None,
        error: Any | None,
        trace: OpenInvocation | None,
    ) -> None:
        # The hot path (ten times an order): appends only, no calls further down.
        if error is None:
            self._counted((_INVOKED, function, duration, False))
            if self.log is not None:
                self._logged((function, request_id, duration, memory_mb, init, None, False))
            if trace is None or not trace.root or self.traces is None:
                return
            error_type = None
        else:
            error_type = getattr(error, "error_type", None)
            timed_out = error_type == "Sandbox.Timedout"
            self._counted((_INVOKED, function, duration, True))
            if self.log is not None:
                self._logged(
                    (function, request_id, duration, memory_mb, init, str(error), timed_out)
                )
            if trace is None or not trace.root or self.traces is None:
                return
        failed = error is not None
        attributes: dict[str, Any] = {"request_id": request_id}
        outcome = "ok"
        if init is not None:
            attributes["init_ms"] = round(init * 1000, 3)
        if failed:
            outcome = "timeout" if error_type == "Sandbox.Timedout" else "error"
            attributes["error_type"] = error_type or type(error).__name__
            attributes["error"] = getattr(error, "message", str(error))
        span = Span(
            trace.root,
            trace.span_id,
            trace.parent,
            "invocation",
            function,
            trace.start,
            duration * 1000,
            outcome,
            attributes,
        )
        self.traces.add_all(trace.root, (span,), SPAN_BYTES)

    def invocation_throttled(self, function: str) -> None:
        self.metrics.throttled_invocation(function)

    # --- the bus -------------------------------------------------------------------------

    def published(
        self,
        bus: str,
        event: dict[str, Any],
        detail_text: str,
        rules: Sequence[str],
        trace_header: str | None,
    ) -> dict[str, traceid.Position] | None:
        self._counted((_PUT, bus, rules))
        if self.traces is None:
            return None
        parsed = traceid.parse(trace_header) if trace_header is not None else None
        now = self.now()
        if parsed is None:  # a new journey: is it traced?
            parsed = (traceid.new_trace_id(now), None) if self.sample() else traceid.UNSAMPLED
        root, parent = parsed
        if not root:
            return dict.fromkeys(rules, traceid.UNSAMPLED)
        event_span = traceid.new_span_id()
        detail = detail_text[:MAX_DETAIL_CHARS]
        attributes = {
            "bus": bus,
            "source": event["source"],
            "detail_type": event["detail-type"],
            "event_id": event["id"],
            "detail": detail,
        }
        spans = [
            Span(
                root, event_span, parent, "event", event["detail-type"], now, 0.0, "ok", attributes
            )
        ]
        positions: dict[str, traceid.Position] = {}
        for rule in rules:
            match_span = traceid.new_span_id()
            spans.append(Span(root, match_span, event_span, "match", rule, now, 0.0, "ok", {}))
            positions[rule] = (root, match_span)
        self.traces.add_all(root, tuple(spans), SPAN_BYTES * len(spans) + len(detail))
        return positions

    def event_throttled(self, bus: str) -> None:
        self.metrics.event_throttled(bus)

    def delivered(self, rule: str, target: str) -> None:
        self._counted((_ATTEMPT, rule, target, "ok"))

    def retrying(
        self,
        rule: str,
        target: str,
        trace: traceid.Position | None,
        attempt: int,
        error: Any,
        delay: float,
    ) -> None:
        self.metrics.target_attempt(rule, target, "retry")
        self._step(
            trace,
            "retry",
            target,
            "retry",
            {"rule": rule, "attempt": attempt, "delay_s": round(delay, 3), "error": str(error)},
        )

    def dead_lettered(
        self,
        rule: str,
        target: str,
        trace: traceid.Position | None,
        attempts: int,
        reason: str,
        error: Any,
    ) -> None:
        self.metrics.target_attempt(rule, target, "dead_letter")
        self._step(
            trace,
            "dead_letter",
            target,
            reason,
            {"rule": rule, "attempts": attempts, "error": str(error)},
        )

    def _step(
        self,
        trace: traceid.Position | None,
        kind: str,
        name: str,
        outcome: str,
        attributes: dict[str, Any],
    ) -> None:
        if self.traces is None or trace is None or not trace[0]:
            return
        root, parent = trace
        span_id = traceid.new_span_id()
        span = Span(root, span_id, parent, kind, name, self.now(), 0.0, outcome, attributes)
        self.traces.add_all(root, (span,), SPAN_BYTES)

    # --- the APIs ------------------------------------------------------------------------

    def pushed(self, connection_id: str, size: int, outcome: str, trace: str | None) -> None:
        if outcome == "ok":
            self.metrics.message("out")
        if trace is not None and self.traces is not None:
            self._step(traceid.parse(trace), "push", connection_id, outcome, {"bytes": size})

    def request(
        self,
        api: str,
        route: str,
        status: int,
        trace: tuple[str, str, str | None],
        start: float,
        duration: float,
    ) -> None:
        self.metrics.request(api, route, status)
        root, span_id, parent = trace
        if self.traces is None or not root:
            return
        span = Span(
            root,
            span_id,
            parent,
            "request",
            route,
            start,
            duration * 1000,
            "ok" if status < 400 else "error",
            {"api": api, "status": status},
        )
        self.traces.add_all(root, (span,), SPAN_BYTES)

    def message_received(self) -> None:
        self._counted((_MESSAGE, "in"))

    # --- periodic work -------------------------------------------------------------------

    def tick(self, monotonic: float) -> None:
        """Write queued invocation lines; once a second, sample the totals for the charts."""
        if self.log is not None:
            self.log.flush(monotonic)
        self.metrics.drain()
        second = float(int(self.now()))
        if self.series and self.series[-1][0] == second:
            return
        totals = self.metrics.totals()
        previous = self._last_totals or totals
        self._last_totals = totals
        self.series.append((second, {k: totals[k] - previous.get(k, 0) for k in totals}))
