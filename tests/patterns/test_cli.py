"""``pizzabus test-event-pattern`` behaves like ``aws events test-event-pattern``."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pizzabus.cli.test_event_pattern import test_event_pattern as command

from .conftest import envelope

EVENT = json.dumps(envelope(size=12))


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(command, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_a_matching_event_prints_result_true() -> None:
    code, out, _ = _run("--event-pattern", '{"source": ["pizza.orders"]}', "--event", EVENT)
    assert code == 0
    assert json.loads(out) == {"Result": True}


def test_a_non_matching_event_prints_result_false() -> None:
    code, out, _ = _run("--event-pattern", '{"source": ["elsewhere"]}', "--event", EVENT)
    assert code == 0
    assert json.loads(out) == {"Result": False}


def test_patterns_and_events_are_read_from_file_urls(tmp_path: Path) -> None:
    pattern = tmp_path / "pattern.json"
    pattern.write_text('{"detail": {"size": [{"numeric": [">", 10]}]}}')
    event = tmp_path / "event.json"
    event.write_text(EVENT)
    code, out, _ = _run("--event-pattern", f"file://{pattern}", "--event", f"file://{event}")
    assert (code, json.loads(out)) == (0, {"Result": True})


def test_an_invalid_pattern_fails_with_the_aws_cli_message_and_254() -> None:
    code, out, err = _run("--event-pattern", '{"source": []}', "--event", EVENT)
    assert code == 254
    assert out == ""
    assert err.strip() == (
        "An error occurred (InvalidEventPatternException) when calling the TestEventPattern "
        "operation: Event pattern is not valid. Reason: Empty arrays are not allowed"
    )
    assert "Traceback" not in err


def test_an_event_without_the_envelope_fails_as_a_validation_exception() -> None:
    code, _, err = _run("--event-pattern", '{"a": ["b"]}', "--event", '{"a": "b"}')
    assert code == 254
    assert err.strip() == (
        "An error occurred (ValidationException) when calling the TestEventPattern "
        "operation: Parameter Event is not valid."
    )


def test_an_unreadable_file_url_names_the_file_and_exits_255(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    code, _, err = _run("--event-pattern", f"file://{missing}", "--event", EVENT)
    assert code == 255
    assert str(missing) in err
    assert "No such file or directory" in err
