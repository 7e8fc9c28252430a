"""The relay's pure parts: what a node publishes, what a gateway keeps, who is a target."""

from __future__ import annotations

import io
from typing import Any

from pizzabus.distributed.telemetry import (
    NODE_EXPIRY,
    NodeInfo,
    RelayedTraces,
    TelemetryCollector,
    decode_batch,
    encode_batch,
)
from pizzabus.functions.labels import LabelledStream
from pizzabus.telemetry.metrics import _INVOKED, Metrics
from pizzabus.telemetry.spans import Span

WORKER = NodeInfo("worker-0-1", "worker", "127.0.0.1:9101")
GATEWAY = NodeInfo("gateway-ab", "gateway", "127.0.0.1:8000")


def _span(trace: str, span_id: str, kind: str = "invocation") -> Span:
    return Span(trace, span_id, "p", kind, "cook_pizza", 1.0, 2.5, "ok", {"request_id": "r"})


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _collector(clock: _Clock | None = None) -> tuple[TelemetryCollector, RelayedTraces, Metrics]:
    traces, metrics = RelayedTraces(keep=True), Metrics()
    collector = TelemetryCollector(
        None,  # type: ignore[arg-type]  # receive() needs no broker
        GATEWAY,
        traces,
        metrics,
        now=clock or _Clock(),
    )
    return collector, traces, metrics


def test_a_batch_round_trips_spans_counts_and_its_node() -> None:
    spans = [_span("t1", "a"), _span("t1", "b", "push")]
    counts: list[tuple[Any, ...]] = [(_INVOKED, "cook_pizza", 0.01, False)]
    node, decoded, decoded_counts = decode_batch(encode_batch(WORKER, spans, counts))
    assert node == WORKER
    assert decoded == spans
    assert decoded_counts == counts


def test_a_worker_keeps_no_span_and_queues_each_one_a_gateway_keeps_its_own_too() -> None:
    worker, gateway = RelayedTraces(keep=False), RelayedTraces(keep=True)
    for store in (worker, gateway):
        store.add_all("t1", (_span("t1", "a"),), 320)
    assert worker.spans("t1") is None
    assert list(worker.outbox) == [_span("t1", "a")]
    assert gateway.spans("t1") == [_span("t1", "a")]
    assert list(gateway.outbox) == [_span("t1", "a")]


def test_the_outbox_is_bounded_the_oldest_spans_go_first() -> None:
    store = RelayedTraces(keep=False, max_waiting=2)
    for span_id in "abc":
        store.add_all("t1", (_span("t1", span_id),), 320)
    assert [s.span_id for s in store.outbox] == ["b", "c"]


def test_a_gateway_keeps_what_others_relay_and_not_its_own_echo() -> None:
    collector, traces, metrics = _collector()
    collector.receive(
        encode_batch(WORKER, [_span("t1", "a")], [(_INVOKED, "cook_pizza", 0.01, False)])
    )
    collector.receive(encode_batch(GATEWAY, [_span("t1", "own")], [(_INVOKED, "x", 0.0, True)]))
    assert [s.span_id for s in traces.spans("t1") or []] == ["a"]
    assert metrics.functions()["cook_pizza"]["invocations"] == 1
    assert "x" not in metrics.functions()
    assert traces.outbox == type(traces.outbox)()  # relayed spans are never relayed again


def test_a_malformed_batch_is_counted_and_ignored() -> None:
    collector, traces, _ = _collector()
    collector.receive(b"{not json")
    collector.receive(b'{"node": {"node": "x"}}')
    assert collector.malformed == 2
    assert len(traces) == 0


def test_scrape_targets_are_the_nodes_heard_of_lately_gateways_first() -> None:
    clock = _Clock()
    collector, _, _ = _collector(clock)
    collector.receive(encode_batch(WORKER, [], []))
    collector.receive(encode_batch(NodeInfo("worker-1-2", "worker", None), [], []))
    assert collector.targets() == [
        {
            "targets": ["127.0.0.1:8000"],
            "labels": {"job": "pizzabus-gateway", "pizzabus_node": "gateway-ab"},
        },
        {
            "targets": ["127.0.0.1:9101"],
            "labels": {"job": "pizzabus-worker", "pizzabus_node": "worker-0-1"},
        },
    ]
    clock.now += NODE_EXPIRY  # the worker fell silent: no longer a target
    assert [g["labels"]["job"] for g in collector.targets()] == ["pizzabus-gateway"]


def test_the_console_lists_each_process_with_its_pid_and_last_heartbeat() -> None:
    clock = _Clock()
    collector, _, _ = _collector(clock)
    collector.receive(encode_batch(NodeInfo("worker-7-1", "worker", "127.0.0.1:9101", 7), [], []))
    clock.now += 1.5
    assert collector.processes() == [
        {
            "node": "gateway-ab",
            "kind": "gateway",
            "pid": None,
            "metrics": "127.0.0.1:8000",
            "heartbeat_age_s": 0.0,
        },
        {
            "node": "worker-7-1",
            "kind": "worker",
            "pid": 7,
            "metrics": "127.0.0.1:9101",
            "heartbeat_age_s": 1.5,
        },
    ]


def test_every_line_a_process_writes_carries_its_label() -> None:
    out = io.StringIO()
    stream = LabelledStream(out, "[worker 1] ")  # type: ignore[arg-type]
    stream.write("one\ntw")
    stream.write("o\n")
    stream.write("three\nfour\n")
    assert out.getvalue() == "[worker 1] one\n[worker 1] two\n[worker 1] three\n[worker 1] four\n"
