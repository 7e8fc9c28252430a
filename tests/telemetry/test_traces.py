"""Trace ids, trace headers, sampling, and the bounded store of journeys."""

from __future__ import annotations

import json
import re
import sys

from pizzabus.telemetry import Telemetry, traceid
from pizzabus.telemetry.spans import Span, TraceStore, document

ROOT = "1-5759e988-bd862e3fe1be46a994272793"


def test_trace_ids_and_span_ids_have_x_rays_shape() -> None:
    assert re.fullmatch(r"1-[0-9a-f]{8}-[0-9a-f]{24}", traceid.new_trace_id(1_700_000_000))
    ids = {traceid.new_span_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)


def test_headers_are_read_as_x_ray_writes_them() -> None:
    own = traceid.header(ROOT, "53995c3f42cd8ad8")
    assert own == f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1"
    assert traceid.parse(own) == (ROOT, "53995c3f42cd8ad8")
    assert traceid.parse(f"Sampled=1; Root={ROOT}") == (ROOT, None)
    assert traceid.parse(f"Root={ROOT};Sampled=0") == traceid.UNSAMPLED
    assert traceid.header(*traceid.UNSAMPLED) == traceid.UNSAMPLED_HEADER
    for bad in ("Root=2-abc-def", "Parent=1", "", "Root=" + "x" * 300, 42, None):
        assert traceid.parse(bad) is None


def test_the_sampler_takes_every_journey_up_to_its_reservoir_then_a_fraction() -> None:
    sampler = traceid.Sampler(per_second=5, rate=0.1, seed=7)
    first = [sampler.sample(100.0) for _ in range(1005)]
    assert all(first[:5])
    assert 50 <= sum(first[5:]) <= 150
    assert all(sampler.sample(101.0) for _ in range(5))  # a new second, a new reservoir


def _span(trace_id: str, kind: str = "event", detail: str = "") -> Span:
    attributes = {"detail": detail} if detail else {}
    return Span(trace_id, traceid.new_span_id(), None, kind, "x", 0.0, 0.0, "ok", attributes)


def test_the_store_keeps_the_last_traces_by_count_and_by_size() -> None:
    store = TraceStore(max_traces=3, max_bytes=10_000)
    for i in range(5):
        store.add(_span(f"t{i}"))
    assert len(store) == 3
    assert store.spans("t0") is None
    assert store.spans("t4") is not None
    store.add(_span("big", detail="x" * 9_500))
    assert store.spans("big") is not None
    assert len(store) == 1
    assert store.evicted == 5


def test_search_finds_traces_by_event_detail_newest_first() -> None:
    store = TraceStore()
    store.add(_span("a", detail='{"order": "o-1"}'))
    store.add(_span("b", detail='{"order": "o-2"}'))
    store.add(_span("c", kind="invocation"))
    store.add(_span("d", detail='{"order": "o-1", "again": true}'))
    assert store.search("o-1") == ["d", "a"]
    assert store.search("nothing") == []
    assert [t["trace_id"] for t in store.recent(2)] == ["d", "c"]


def test_an_events_journey_hangs_together_in_one_document() -> None:
    telemetry = Telemetry(traces=TraceStore(), now=lambda: 1000.0)
    event = {"id": "e1", "source": "shop", "detail-type": "ordered"}
    positions = telemetry.published("bus", event, '{"n": 1}', ["r1", "r2"], None)
    assert positions is not None
    root, _ = positions["r1"]
    token = traceid.current.set(positions["r1"])
    invocation = telemetry.begin_invocation()
    traceid.current.reset(token)
    assert invocation is not None
    assert invocation.header == f"Root={root};Parent={invocation.span_id};Sampled=1"
    telemetry.invoked("f", "req-1", 128, 0.002, 0.01, None, invocation)
    telemetry.pushed("conn", 12, "ok", invocation.header)
    telemetry.retrying("r2", "g", positions["r2"], 1, "boom", 0.2)
    telemetry.dead_lettered("r2", "g", positions["r2"], 2, "MaximumRetryAttemptsExceeded", "x")
    spans = telemetry.traces.spans(root)  # type: ignore[union-attr]
    assert spans is not None
    doc = document(root, spans)
    kinds = [s["kind"] for s in doc["spans"]]
    assert sorted(kinds) == sorted(
        ["event", "match", "match", "invocation", "push", "retry", "dead_letter"]
    )
    by_id = {s["span_id"]: s for s in doc["spans"]}
    push = next(s for s in doc["spans"] if s["kind"] == "push")
    assert by_id[push["parent"]]["name"] == "f"
    assert by_id[by_id[push["parent"]]["parent"]]["name"] == "r1"
    invocation_span = by_id[push["parent"]]
    assert invocation_span["init_ms"] == 10.0
    assert invocation_span["duration_ms"] == 2.0


def test_an_unsampled_journey_records_nothing_downstream() -> None:
    telemetry = Telemetry(traces=TraceStore(), sampler=traceid.Sampler(per_second=0, rate=0.0))
    event = {"id": "e1", "source": "shop", "detail-type": "ordered"}
    positions = telemetry.published("bus", event, "{}", ["r1"], None)
    assert positions == {"r1": traceid.UNSAMPLED}
    token = traceid.current.set(traceid.UNSAMPLED)
    invocation = telemetry.begin_invocation()
    traceid.current.reset(token)
    assert invocation is not None
    assert invocation.header.endswith("Sampled=0")
    telemetry.invoked("f", "req", 128, 0.001, None, None, invocation)
    again = telemetry.published("bus", event, "{}", ["r1"], invocation.header)
    assert again == {"r1": traceid.UNSAMPLED}
    telemetry.pushed("conn", 1, "ok", invocation.header)
    assert len(telemetry.traces) == 0  # type: ignore[arg-type]
    assert telemetry.metrics.functions()["f"]["invocations"] == 1


def _held(objects: list[object]) -> int:
    """The bytes these objects and everything they hold take (each object counted once)."""
    seen: set[int] = set()
    total = 0
    stack = list(objects)
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, Span):
            stack.extend(getattr(item, name) for name in Span.__slots__)
    return total


def test_the_size_the_store_counts_is_the_memory_its_spans_hold() -> None:
    # An order's journey as the lab makes it: four events with their detail, each matched by
    # two rules, each match invoking a function that pushes to the order's socket.
    store = TraceStore()
    telemetry = Telemetry(traces=store, sampler=traceid.Sampler(per_second=10_000))
    for order in range(200):
        header = None
        for stage in ("make_pizza", "cook_pizza", "deliver_pizza", "delivered"):
            item = {"order_id": f"{order:08d}-2d7b-4a53-9d1c-0b8f4a1e2c3d", "eventtype": stage}
            event = {"id": f"event-{order}-{stage}", "source": "shop", "detail-type": "eventtype"}
            detail = json.dumps({"item": {**item, "pizza": "margherita", "size": "large"}})
            positions = telemetry.published("bus", event, detail, [stage, "receive"], header)
            assert positions is not None
            for rule in (stage, "receive"):
                token = traceid.current.set(positions[rule])
                invocation = telemetry.begin_invocation()
                traceid.current.reset(token)
                assert invocation is not None
                telemetry.invoked(
                    rule, f"request-{order}-{stage}-{rule}", 128, 0.002, None, None, invocation
                )
                if rule == "receive":
                    telemetry.pushed("connection-id=", 180, "ok", invocation.header)
                else:
                    header = invocation.header
    assert len(store) == 200
    spans = [span for t in store.recent(200) for span in store.spans(t["trace_id"]) or []]
    held = _held([spans])
    assert 0.8 <= store.size / held <= 1.25, (store.size, held, len(spans))
