"""Handler output is attributed to its function and request, as CloudWatch Logs would be."""

from __future__ import annotations

import io
import threading

from pizzabus.functions import logs


def test_lines_written_during_an_invocation_carry_the_function_and_request() -> None:
    sink = io.StringIO()
    stream = logs.AttributedStream(sink)  # type: ignore[arg-type]
    stream.write("before\n")
    seen: list[str] = []

    def handler() -> None:
        logs.begin("cook_pizza", "3f2a9c1e-0000-4000-8000-000000000000")
        stream.write("oven at 400 °C\nturning")
        stream.write(" it\n")
        stream.write("no newline at the end")
        stream.end_invocation()
        seen.append("done")

    thread = threading.Thread(target=handler)
    thread.start()
    thread.join()
    stream.write("after\n")
    assert seen == ["done"]
    assert sink.getvalue().splitlines() == [
        "before",
        "[cook_pizza 3f2a9c1e] oven at 400 °C",
        "[cook_pizza 3f2a9c1e] turning it",
        "[cook_pizza 3f2a9c1e] no newline at the end",
        "after",
    ]


def test_the_runtime_hears_of_an_invocations_first_line_before_it_is_written() -> None:
    sink = io.StringIO()
    stream = logs.AttributedStream(sink)  # type: ignore[arg-type]
    stream.announce = lambda function, request_id: sink.write(f"START {function} {request_id}\n")

    def handler() -> None:
        logs.begin("cook_pizza", "3f2a9c1e-0000-4000-8000-000000000000")
        stream.write("one\n")
        stream.write("two\n")

    thread = threading.Thread(target=handler)
    thread.start()
    thread.join()
    assert sink.getvalue().splitlines() == [
        "START cook_pizza 3f2a9c1e-0000-4000-8000-000000000000",
        "[cook_pizza 3f2a9c1e] one",
        "[cook_pizza 3f2a9c1e] two",
    ]
