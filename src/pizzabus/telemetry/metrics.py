"""Counters with CloudWatch's names, exposed in Prometheus's text format.

Recording is one append to a queue (handlers record from their own threads too); the counters
catch up when drained (a few times a second, and before every read), and the
``prometheus_client`` families are built only when ``/metrics`` is read, so the hot path never
touches ``prometheus_client``'s own, heavier, metric objects.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

#: Upper bounds (seconds) of the duration histogram's buckets: from a fraction of a millisecond
#: (an inline handler) to Lambda's 15-minute limit.
DURATION_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
)

# What a recorded item is (the first field of each queued tuple).
_INVOKED, _THROTTLED, _PUT, _EVENT_THROTTLED, _ATTEMPT, _REQUEST, _MESSAGE = range(7)
__all__ = ["DURATION_BUCKETS", "Metrics", "PrometheusCollector", "percentile", "registry"]

#: How many recent durations per function the percentiles are taken over.
RECENT_DURATIONS = 1_000


class _Histogram:
    __slots__ = ("buckets", "count", "recent", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * (len(DURATION_BUCKETS) + 1)
        self.sum = 0.0
        self.count = 0
        self.recent: deque[float] = deque(maxlen=RECENT_DURATIONS)

    def observe(self, seconds: float) -> None:
        self.buckets[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1
        self.sum += seconds
        self.count += 1
        self.recent.append(seconds)

    def cumulative(self) -> list[tuple[str, float]]:
        total = 0
        out: list[tuple[str, float]] = []
        for bound, count in zip((*DURATION_BUCKETS, float("inf")), self.buckets, strict=True):
            total += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), total))
        return out


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` percentile (nearest rank) of sorted ``values``; 0 when empty."""
    if not values:
        return 0.0
    index = min(len(values) - 1, max(0, math.ceil(fraction * len(values)) - 1))
    return values[index]


class Metrics:
    """What happened, counted: functions, the bus, the APIs."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._pending: deque[tuple[Any, ...]] = deque()
        self.invocations: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.throttles: dict[str, int] = {}
        self.durations: dict[str, _Histogram] = {}
        self.matched: dict[tuple[str, str], int] = {}
        self.target_invocations: dict[tuple[str, str], int] = {}
        self.failed_invocations: dict[tuple[str, str], int] = {}
        self.dead_letters: dict[tuple[str, str], int] = {}
        self.retries: dict[tuple[str, str], int] = {}
        self.events_put: dict[str, int] = {}
        self.events_throttled: dict[str, int] = {}
        self.requests: dict[tuple[str, str, str], int] = {}
        self.messages: dict[str, int] = {"in": 0, "out": 0}
        #: Read when exported: concurrency per function, open connections.
        self.concurrency: Callable[[], dict[str, int]] = dict
        self.connections: Callable[[], int] = lambda: 0
        #: Hears each recorded item as it is counted (a cluster node relays them to the
        #: gateways' consoles): off the hot path, at each drain.
        self.tap: Callable[[tuple[Any, ...]], None] | None = None

    # --- recording (any thread) ------------------------------------------------------------
    # Each is one append (atomic): the counters are brought up to date by drain(), a few times a
    # second and before every read, so the hot path pays no lock and no dict work.

    def record(self, item: tuple[Any, ...]) -> None:
        """Queue an item as the methods below make it (the recorder's hot path calls this,
        bound once, with the tuple it built)."""
        self._pending.append(item)

    def invoked(self, function: str, seconds: float, failed: bool) -> None:
        self._pending.append((_INVOKED, function, seconds, failed))

    def throttled_invocation(self, function: str) -> None:
        self._pending.append((_THROTTLED, function))

    def put(self, bus: str, rules: Sequence[str]) -> None:
        """An event was put on ``bus`` and matched these rules."""
        self._pending.append((_PUT, bus, rules))

    def event_throttled(self, bus: str) -> None:
        self._pending.append((_EVENT_THROTTLED, bus))

    def target_attempt(self, rule: str, target: str, outcome: str) -> None:
        """A rule invoked its target: ``ok``, ``retry`` or ``dead_letter``."""
        self._pending.append((_ATTEMPT, rule, target, outcome))

    def request(self, api: str, route: str, status: int) -> None:
        self._pending.append((_REQUEST, api, route, status))

    def message(self, direction: str) -> None:
        self._pending.append((_MESSAGE, direction))

    def drain(self) -> None:
        """Bring the counters up to date with what was recorded since."""
        pending = self._pending
        tap = self.tap
        with self._lock:
            while pending:
                item = pending.popleft()
                if tap is not None:
                    tap(item)
                kind = item[0]
                if kind == _INVOKED:
                    _, function, seconds, failed = item
                    self.invocations[function] = self.invocations.get(function, 0) + 1
                    if failed:
                        self.errors[function] = self.errors.get(function, 0) + 1
                    histogram = self.durations.get(function)
                    if histogram is None:
                        histogram = self.durations[function] = _Histogram()
                    histogram.observe(seconds)
                elif kind == _PUT:
                    _, bus, rules = item
                    self.events_put[bus] = self.events_put.get(bus, 0) + 1
                    for rule in rules:
                        key = (bus, rule)
                        self.matched[key] = self.matched.get(key, 0) + 1
                elif kind == _ATTEMPT:
                    self._attempt(item[1], item[2], item[3])
                else:
                    self._other(item)

    def _attempt(self, rule: str, target: str, outcome: str) -> None:
        key = (rule, target)
        self.target_invocations[key] = self.target_invocations.get(key, 0) + 1
        if outcome == "retry":
            self.retries[key] = self.retries.get(key, 0) + 1
        elif outcome == "dead_letter":
            self.failed_invocations[key] = self.failed_invocations.get(key, 0) + 1
            self.dead_letters[key] = self.dead_letters.get(key, 0) + 1

    def _other(self, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == _THROTTLED:
            self.throttles[item[1]] = self.throttles.get(item[1], 0) + 1
        elif kind == _EVENT_THROTTLED:
            self.events_throttled[item[1]] = self.events_throttled.get(item[1], 0) + 1
        elif kind == _REQUEST:
            key = (item[1], item[2], str(item[3]))
            self.requests[key] = self.requests.get(key, 0) + 1
        elif kind == _MESSAGE:
            self.messages[item[1]] = self.messages.get(item[1], 0) + 1

    # --- reading -----------------------------------------------------------------------------

    def functions(self) -> dict[str, dict[str, Any]]:
        """Per function: invocations, errors, throttles, p50 and p99 in ms, concurrency."""
        concurrency = self.concurrency()
        self.drain()
        with self._lock:
            names = sorted(set(self.invocations) | set(concurrency))
            recent = {n: sorted(h.recent) for n, h in self.durations.items()}
            out = {}
            for name in names:
                durations = recent.get(name, [])
                out[name] = {
                    "invocations": self.invocations.get(name, 0),
                    "errors": self.errors.get(name, 0),
                    "throttles": self.throttles.get(name, 0),
                    "p50_ms": round(percentile(durations, 0.5) * 1000, 3),
                    "p99_ms": round(percentile(durations, 0.99) * 1000, 3),
                    "concurrency": concurrency.get(name, 0),
                }
        return out

    def totals(self) -> dict[str, int]:
        """Running totals, for the console's charts."""
        self.drain()
        with self._lock:
            return {
                "events": sum(self.events_put.values()),
                "invocations": sum(self.invocations.values()),
                "errors": sum(self.errors.values()),
                "dead_letters": sum(self.dead_letters.values()),
            }

    def snapshot(self) -> dict[str, Any]:
        """The counters as JSON (for the console)."""
        self.drain()
        with self._lock:
            return {
                "matched": [
                    {"bus": b, "rule": r, "count": n} for (b, r), n in self.matched.items()
                ],
                "targets": [
                    {
                        "rule": r,
                        "target": t,
                        "invocations": n,
                        "retries": self.retries.get((r, t), 0),
                        "dead_letters": self.dead_letters.get((r, t), 0),
                    }
                    for (r, t), n in self.target_invocations.items()
                ],
                "events_put": dict(self.events_put),
                "requests": [
                    {"api": a, "route": r, "status": s, "count": n}
                    for (a, r, s), n in self.requests.items()
                ],
                "messages": dict(self.messages),
            }


class PrometheusCollector(Collector):
    """Builds the Prometheus families from :class:`Metrics` when scraped."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        concurrency = m.concurrency()
        connections = m.connections()
        m.drain()
        with m._lock:
            yield _counter(
                "pizzabus_lambda_invocations",
                "Invocations of each function (CloudWatch AWS/Lambda Invocations).",
                ["function"],
                {(k,): v for k, v in m.invocations.items()},
            )
            yield _counter(
                "pizzabus_lambda_errors",
                "Invocations that failed: raised, timed out, or could not load (Errors).",
                ["function"],
                {(k,): v for k, v in m.errors.items()},
            )
            yield _counter(
                "pizzabus_lambda_throttles",
                "Invocations that waited for a free execution environment (Throttles).",
                ["function"],
                {(k,): v for k, v in m.throttles.items()},
            )
            histogram = HistogramMetricFamily(
                "pizzabus_lambda_duration_seconds",
                "Time each invocation's handler ran (Duration).",
                labels=["function"],
            )
            for name, h in m.durations.items():
                histogram.add_metric([name], h.cumulative(), sum_value=h.sum)
            yield histogram
            yield _counter(
                "pizzabus_events_matched",
                "Events that matched each rule (AWS/Events MatchedEvents).",
                ["bus", "rule"],
                dict(m.matched),
            )
            yield _counter(
                "pizzabus_events_invocations",
                "Times each rule invoked its target, retries included (Invocations).",
                ["rule", "target"],
                dict(m.target_invocations),
            )
            yield _counter(
                "pizzabus_events_failed_invocations",
                "Deliveries that failed for good, retries exhausted (FailedInvocations).",
                ["rule", "target"],
                dict(m.failed_invocations),
            )
            yield _counter(
                "pizzabus_events_dead_letter_invocations",
                "Events sent to the dead-letter queue (DeadLetterInvocations).",
                ["rule", "target"],
                dict(m.dead_letters),
            )
            yield _counter(
                "pizzabus_events_throttled",
                "PutEvents entries refused with ThrottlingException (ThrottledRules).",
                ["bus"],
                {(k,): v for k, v in m.events_throttled.items()},
            )
            yield _counter(
                "pizzabus_apigateway_requests",
                "Requests to each HTTP API route, by status (AWS/ApiGateway Count).",
                ["api", "route", "status"],
                dict(m.requests),
            )
            yield _counter(
                "pizzabus_websocket_messages",
                "WebSocket messages received (in) and pushed to clients (out).",
                ["direction"],
                {(k,): v for k, v in m.messages.items()},
            )
        gauge = GaugeMetricFamily(
            "pizzabus_lambda_concurrent_executions",
            "Invocations running now, per function (ConcurrentExecutions).",
            labels=["function"],
        )
        for name, value in concurrency.items():
            gauge.add_metric([name], value)
        yield gauge
        yield GaugeMetricFamily(
            "pizzabus_websocket_connections",
            "WebSocket connections open now (ConnectCount, less disconnects).",
            value=connections,
        )


def _counter(
    name: str, documentation: str, labels: list[str], values: dict[Any, int]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for key, value in values.items():
        family.add_metric(list(key), value)
    return family


def registry(metrics: Metrics) -> CollectorRegistry:
    """A registry of its own (not the process-wide default) serving ``metrics``."""
    own = CollectorRegistry(auto_describe=False)
    own.register(PrometheusCollector(metrics))
    return own
