"""Lambda's START / END / REPORT lines: their shape, their order, and their cost under load."""

from __future__ import annotations

import re

from pizzabus.telemetry.invocation_log import InvocationLog

REQUEST = "3f2a9c1e-5be2-4e60-8d00-ac8d85f266ae"


def _log(summary_above: float = 200.0) -> tuple[InvocationLog, list[str]]:
    written: list[str] = []
    return InvocationLog(
        written.append, summary_above=summary_above, memory_used=lambda: 57
    ), written


def _lines(written: list[str]) -> list[str]:
    return "".join(written).splitlines()


def test_an_invocation_writes_start_end_and_report_with_the_function_prefix() -> None:
    log, written = _log()
    log.record("cook_pizza", REQUEST, 0.00042, 128, None, None)
    log.flush(None)
    assert _lines(written) == [
        f"[cook_pizza 3f2a9c1e] START RequestId: {REQUEST} Version: $LATEST",
        f"[cook_pizza 3f2a9c1e] END RequestId: {REQUEST}",
        f"[cook_pizza 3f2a9c1e] REPORT RequestId: {REQUEST}\tDuration: 0.42 ms\t"
        "Billed Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 57 MB",
    ]


def test_a_cold_start_reports_its_init_duration_and_bills_whole_milliseconds() -> None:
    log, written = _log()
    log.record("cook_pizza", REQUEST, 0.0123, 256, 0.0456, None)
    log.flush(None)
    report = _lines(written)[-1]
    assert "\tDuration: 12.30 ms\tBilled Duration: 13 ms\tMemory Size: 256 MB" in report
    assert report.endswith("\tInit Duration: 45.60 ms")


def test_a_failure_writes_its_error_and_a_timeout_its_status() -> None:
    log, written = _log()
    log.record("cook_pizza", REQUEST, 3.0, 128, None, "Sandbox.Timedout: Task timed out", True)
    log.flush(None)
    lines = _lines(written)
    assert lines[1] == "[cook_pizza 3f2a9c1e] [ERROR] Sandbox.Timedout: Task timed out"
    assert lines[-1].endswith("\tStatus: timeout")


def test_a_handler_that_prints_gets_its_start_line_first() -> None:
    log, written = _log()
    log.record("make_it", "a" * 36, 0.001, 128, None, None)  # an earlier invocation, queued
    log.announce("cook_pizza", REQUEST)  # cook_pizza is about to print
    written.append("[cook_pizza 3f2a9c1e] hello\n")
    log.record("cook_pizza", REQUEST, 0.001, 128, None, None)
    log.flush(None)
    lines = _lines(written)
    assert [line.split("] ")[1].split(" ")[0] for line in lines] == [
        "START",
        "END",
        "REPORT",
        "START",
        "hello",
        "END",
        "REPORT",
    ]
    assert sum("START" in line and "cook_pizza" in line for line in lines) == 1


def test_above_the_rate_each_function_gets_one_summary_line_a_second() -> None:
    log, written = _log(summary_above=100)
    log.flush(0.0)
    for i in range(300):  # 300 in 0.5 s: 600/s
        log.record("cook_pizza", f"{i:08d}-x", 0.001 * (i % 10 + 1), 128, None, None)
    log.record("cook_pizza", REQUEST, 0.002, 128, None, "ValueError: boom")
    log.flush(0.5)
    lines = _lines(written)
    # The failure keeps its lines; the rest waits for the second to end.
    assert [line for line in lines if "[ERROR]" in line] == [
        "[cook_pizza 3f2a9c1e] [ERROR] ValueError: boom"
    ]
    assert not any("invocations in" in line for line in lines)
    log.flush(1.6)  # quiet again: the summary is written
    summary = [line for line in _lines(written) if "invocations in" in line]
    assert len(summary) == 1
    assert re.match(
        r"\[cook_pizza\] 301 invocations in 1\.1 s \(over 100/s.*Duration p50 \d+\.\d\d ms, "
        r"p99 10\.00 ms, max 10\.00 ms; 0 cold starts",
        summary[0],
    )
    assert sum(" REPORT RequestId: " in line for line in _lines(written)) == 1
