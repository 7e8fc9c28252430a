"""``pizzabus test-event-pattern``: a drop-in for ``aws events test-event-pattern``, offline.

Output and exit codes follow the AWS CLI: ``{"Result": true}`` on stdout and 0; an AWS error
(``InvalidEventPatternException``, ``ValidationException``) on stderr and 254; a parameter the
CLI cannot read (a ``file://`` path that does not open) on stderr and 255, as the AWS CLI does
for its own parameter errors. No traceback is ever printed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from pizzabus.errors import PizzabusError
from pizzabus.patterns import compile_pattern, validate_event_envelope

#: Exit status of the AWS CLI when the service answers with an error.
EXIT_AWS_ERROR = 254
#: Exit status of the AWS CLI when it cannot read its own parameters.
EXIT_PARAM_ERROR = 255


class _ParamError(Exception):
    pass


def _read_param(value: str, option: str) -> str:
    """The text of a parameter: inline JSON, or the contents of a ``file://`` path."""
    if not value.startswith("file://"):
        return value
    path = Path(value.removeprefix("file://")).expanduser()
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise _ParamError(
            f"Error parsing parameter '{option}': Unable to load paramfile {value}: "
            f"cannot read {path}: {reason}"
        ) from None


@click.command("test-event-pattern")
@click.option(
    "--event-pattern",
    "event_pattern",
    required=True,
    metavar="<json | file://path>",
    help="The event pattern: JSON text, or file://path to a file holding it.",
)
@click.option(
    "--event",
    "event",
    required=True,
    metavar="<json | file://path>",
    help="The event (an EventBridge envelope): JSON text, or file://path.",
)
def test_event_pattern(event_pattern: str, event: str) -> None:
    """Test whether EVENT matches EVENT_PATTERN, exactly as EventBridge would decide."""
    try:
        pattern_text = _read_param(event_pattern, "--event-pattern")
        event_text = _read_param(event, "--event")
    except _ParamError as error:
        click.echo(f"\n{error}", err=True)
        sys.exit(EXIT_PARAM_ERROR)
    try:
        parsed = validate_event_envelope(event_text)
        result = compile_pattern(pattern_text).matches(parsed)
    except PizzabusError as error:
        click.echo(
            f"\nAn error occurred ({error.code}) when calling the TestEventPattern operation: "
            f"{error.message}",
            err=True,
        )
        sys.exit(EXIT_AWS_ERROR)
    click.echo(json.dumps({"Result": result}, indent=4))
