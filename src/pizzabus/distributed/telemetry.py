"""Telemetry across the processes of a cluster: spans and counts relayed to every gateway.

Each process (a worker, a gateway) records as embedded mode does, into its own
:class:`~pizzabus.telemetry.Telemetry`. What a gateway must show for the whole cluster
(``/_pizzabus/traces``, ``pizzabus trace``, the console's counts) is relayed to every gateway:

- **Fire-and-forget, bounded, off the hot path.** A recorded span is an append to a bounded
  deque (the oldest go first when no gateway keeps up), counts are tapped when the metrics are
  drained (a few times a second), and one batch a tick is published on core NATS (no
  JetStream: no acknowledgement to wait for, nothing stored). An invocation never waits for
  telemetry, and a gateway that is away loses only what was relayed while it was.
- **Heartbeats.** Every batch names its node and where its ``/metrics`` is served; a node
  sends one at least every :data:`HEARTBEAT` seconds, so a gateway knows the live nodes and
  lists their ``/metrics`` as Prometheus ``http_sd`` targets (:meth:`TelemetryCollector.targets`).

Prometheus scrapes each process's own ``/metrics`` (counters exact per process, ``up`` per
process, restarts seen as counter resets, aggregation in PromQL); the relayed counts feed only
the console, where a lost batch costs a slightly low chart, not a wrong alert.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pizzabus.distributed.broker import Broker
from pizzabus.gateway.console_state import process
from pizzabus.telemetry.metrics import Metrics
from pizzabus.telemetry.spans import Span, TraceStore

log = logging.getLogger("pizzabus.distributed.telemetry")

#: How often a node writes its invocation lines and relays (as embedded writes its lines).
TICK_SECONDS = 0.2
#: Spans and counts waiting to be relayed, at most (the oldest are dropped beyond).
MAX_WAITING = 50_000
#: Items in one relayed message (well under NATS's 1 MB default payload limit).
BATCH_ITEMS = 500
#: Seconds between two messages of a node, at most (its heartbeat).
HEARTBEAT = 2.0
#: A node not heard of for this long is gone (no longer a scrape target).
NODE_EXPIRY = 3 * HEARTBEAT


@dataclass(frozen=True)
class NodeInfo:
    """Who relays: a gateway or a worker process, and its ``/metrics`` (host:port)."""

    node: str
    kind: str  # "gateway" or "worker"
    metrics: str | None
    #: None from a node of an older pizzabus, which did not send it.
    pid: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "kind": self.kind, "metrics": self.metrics, "pid": self.pid}

    def process(self, heartbeat_age_s: float) -> dict[str, Any]:
        """This node in the console's list of processes."""
        return process(self.node, self.kind, self.pid, self.metrics, heartbeat_age_s)


def advertised(host: str, port: int) -> str:
    """``host:port`` as another machine reaches it: a wildcard bind address (``0.0.0.0``)
    names no machine, so this one's name is given instead."""
    if host in ("0.0.0.0", "::", "[::]", ""):
        host = socket.getfqdn()
    return f"{host}:{port}"


def new_node_name(kind: str) -> str:
    """A name unique in the cluster, readable in the console (``worker-1234-ab12``)."""
    return f"{kind}-{os.getpid()}-{os.urandom(2).hex()}"


class RelayedTraces(TraceStore):
    """A trace store that queues what it records for the gateways; ``keep`` also keeps it
    here (a gateway's own spans), otherwise nothing is kept (a worker)."""

    def __init__(self, *, keep: bool, max_waiting: int = MAX_WAITING) -> None:
        super().__init__()
        self.keep = keep
        self.outbox: deque[Span] = deque(maxlen=max_waiting)

    def add_all(self, trace_id: str, spans: tuple[Span, ...], size: int) -> None:
        self.outbox.extend(spans)  # one C call: atomic under the GIL, from any thread
        if self.keep:
            super().add_all(trace_id, spans, size)

    def add_relayed(self, spans: Iterable[Span]) -> None:
        """Spans another node relayed: kept here, never relayed again."""
        by_trace: dict[str, list[Span]] = {}
        for span in spans:
            by_trace.setdefault(span.trace_id, []).append(span)
        for trace_id, group in by_trace.items():
            super().add_all(trace_id, tuple(group), sum(s.size() for s in group))


def encode_span(span: Span) -> list[Any]:
    return [
        span.trace_id,
        span.span_id,
        span.parent,
        span.kind,
        span.name,
        span.start,
        span.duration_ms,
        span.outcome,
        span.attributes,
    ]


def decode_span(item: list[Any]) -> Span:
    return Span(*item)


def encode_batch(node: NodeInfo, spans: list[Span], counts: list[tuple[Any, ...]]) -> bytes:
    """One relayed message."""
    return json.dumps(
        {
            "node": node.to_json(),
            "spans": [encode_span(s) for s in spans],
            "counts": counts,
        },
        default=str,
    ).encode()


def decode_batch(data: bytes) -> tuple[NodeInfo, list[Span], list[tuple[Any, ...]]]:
    """A relayed message; ``ValueError`` (or ``KeyError``, ``TypeError``) when malformed."""
    document = json.loads(data)
    node = NodeInfo(**document["node"])
    spans = [decode_span(item) for item in document["spans"]]
    counts = [tuple(item) for item in document["counts"]]
    return node, spans, counts


class TelemetryRelay:
    """A node's side: taps its metrics and trace store, and publishes what they recorded."""

    def __init__(
        self,
        broker: Broker,
        node: NodeInfo,
        metrics: Metrics,
        traces: RelayedTraces | None,
        *,
        mirror: Callable[[tuple[Any, ...]], None] | None = None,
        now: Callable[[], float] = time.monotonic,
        max_waiting: int = MAX_WAITING,
    ) -> None:
        """``mirror`` hears each count too (a gateway's console view of the cluster)."""
        self.broker = broker
        self.node = node
        self.traces = traces
        self.counts: deque[tuple[Any, ...]] = deque(maxlen=max_waiting)
        if mirror is None:
            metrics.tap = self.counts.append
        else:
            append = self.counts.append

            def both(item: tuple[Any, ...]) -> None:
                append(item)
                mirror(item)

            metrics.tap = both
        self._now = now
        self._last_sent: float | None = None
        #: Messages published, and batches that could not be (no connection).
        self.sent = 0
        self.failed = 0

    async def flush(self) -> None:
        """Publish what was recorded since (in batches); a heartbeat when nothing was."""
        spans = self.traces.outbox if self.traces is not None else deque()
        now = self._now()
        heartbeat_due = self._last_sent is None or now - self._last_sent >= HEARTBEAT
        if not spans and not self.counts and not heartbeat_due:
            return
        subject = self.broker.names.telemetry_subject
        while True:
            span_batch = _take(spans, BATCH_ITEMS)
            count_batch = _take(self.counts, BATCH_ITEMS)
            try:
                await self.broker.nc.publish(
                    subject, encode_batch(self.node, span_batch, count_batch)
                )
                self.sent += 1
            except Exception as error:  # disconnected, buffer full: telemetry waits for no one
                self.failed += 1
                log.debug("relaying telemetry failed (%s); dropped a batch", error)
            self._last_sent = now
            if not spans and not self.counts:
                return


def _take(queue: deque[Any], limit: int) -> list[Any]:
    out: list[Any] = []
    while queue and len(out) < limit:
        out.append(queue.popleft())
    return out


class TelemetryCollector:
    """A gateway's side: keeps the spans and counts the other nodes relay, and who they are."""

    def __init__(
        self,
        broker: Broker,
        own: NodeInfo,
        traces: RelayedTraces | None,
        metrics: Metrics,
        *,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.broker = broker
        self.own = own
        self.traces = traces
        self.metrics = metrics
        self._now = now
        self._nodes: dict[str, tuple[NodeInfo, float]] = {}
        #: Messages that could not be read (another version of pizzabus on the subject?).
        self.malformed = 0

    async def start(self) -> None:
        await self.broker.nc.subscribe(self.broker.names.telemetry_subject, cb=self._receive)

    async def _receive(self, message: Any) -> None:
        self.receive(message.data)

    def receive(self, data: bytes) -> None:
        try:
            node, spans, counts = decode_batch(data)
        except (ValueError, KeyError, TypeError):
            self.malformed += 1
            return
        self._nodes[node.node] = (node, self._now())
        if node.node == self.own.node:
            return  # our own batch, echoed back: already kept
        if spans and self.traces is not None:
            self.traces.add_relayed(spans)
        record = self.metrics.record
        for item in counts:
            record(item)

    def nodes(self) -> list[NodeInfo]:
        """The nodes heard of lately (this one included), gateways first."""
        return [info for info, _ in self.heard()]

    def heard(self) -> list[tuple[NodeInfo, float]]:
        """The nodes heard of lately, each with the seconds since its last message (this one's
        own: 0), gateways first."""
        now = self._now()
        self._nodes = {k: v for k, v in self._nodes.items() if now - v[1] < NODE_EXPIRY}
        live = {name: (info, now - at) for name, (info, at) in self._nodes.items()}
        live[self.own.node] = (self.own, 0.0)
        return sorted(live.values(), key=lambda n: (n[0].kind != "gateway", n[0].node))

    def processes(self) -> list[dict[str, Any]]:
        """What the console lists of the live processes: who, where, and how lately heard."""
        return [info.process(age) for info, age in self.heard()]

    def targets(self) -> list[dict[str, Any]]:
        """Prometheus ``http_sd`` targets: one group per node serving ``/metrics``."""
        return [
            {
                "targets": [node.metrics],
                "labels": {"job": f"pizzabus-{node.kind}", "pizzabus_node": node.node},
            }
            for node in self.nodes()
            if node.metrics
        ]


async def relay_forever(
    relay: TelemetryRelay, tick: Callable[[], None], interval: float, sleep: Any
) -> None:
    """Each ``interval``: ``tick`` (write logs, drain the metrics into the relay), then relay."""
    while True:
        await sleep(interval)
        with contextlib.suppress(Exception):  # a broken stdout must not stop the relaying
            tick()
        await relay.flush()
