"""Counters with CloudWatch's names, in Prometheus's text format."""

from __future__ import annotations

from prometheus_client import generate_latest

from pizzabus.telemetry.metrics import Metrics, percentile, registry


def test_what_is_recorded_is_exported_under_cloudwatchs_names() -> None:
    metrics = Metrics()
    metrics.concurrency = lambda: {"f": 2}
    metrics.connections = lambda: 3
    for seconds in (0.0004, 0.002, 0.3):
        metrics.invoked("f", seconds, failed=seconds > 0.1)
    metrics.throttled_invocation("f")
    metrics.put("bus", ["r1", "r2"])
    metrics.event_throttled("bus")
    metrics.target_attempt("r1", "f", "ok")
    metrics.target_attempt("r2", "g", "retry")
    metrics.target_attempt("r2", "g", "dead_letter")
    metrics.request("api", "POST /", 200)
    metrics.message("in")
    metrics.message("out")
    text = generate_latest(registry(metrics)).decode()
    expected = [
        'pizzabus_lambda_invocations_total{function="f"} 3.0',
        'pizzabus_lambda_errors_total{function="f"} 1.0',
        'pizzabus_lambda_throttles_total{function="f"} 1.0',
        'pizzabus_lambda_duration_seconds_bucket{function="f",le="0.0005"} 1.0',
        'pizzabus_lambda_duration_seconds_bucket{function="f",le="+Inf"} 3.0',
        'pizzabus_lambda_duration_seconds_count{function="f"} 3.0',
        'pizzabus_lambda_concurrent_executions{function="f"} 2.0',
        'pizzabus_events_matched_total{bus="bus",rule="r1"} 1.0',
        'pizzabus_events_invocations_total{rule="r2",target="g"} 2.0',
        'pizzabus_events_failed_invocations_total{rule="r2",target="g"} 1.0',
        'pizzabus_events_dead_letter_invocations_total{rule="r2",target="g"} 1.0',
        'pizzabus_events_throttled_total{bus="bus"} 1.0',
        'pizzabus_apigateway_requests_total{api="api",route="POST /",status="200"} 1.0',
        "pizzabus_websocket_connections 3.0",
        'pizzabus_websocket_messages_total{direction="in"} 1.0',
    ]
    for line in expected:
        assert line in text, line


def test_the_console_gets_percentiles_per_function_and_totals() -> None:
    metrics = Metrics()
    for i in range(1, 101):
        metrics.invoked("f", i / 1000, failed=i == 100)
    summary = metrics.functions()["f"]
    assert summary["invocations"] == 100
    assert summary["errors"] == 1
    assert summary["p50_ms"] == 50.0
    assert summary["p99_ms"] == 99.0
    assert metrics.totals()["invocations"] == 100
    assert percentile([], 0.5) == 0.0
