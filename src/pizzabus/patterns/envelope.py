"""The envelope check ``TestEventPattern`` makes before it looks at the pattern."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pizzabus.patterns.compiled import EventSource, parse_event
from pizzabus.patterns.errors import InvalidEvent
from pizzabus.patterns.jsontext import JsonObject

#: Fields AWS requires in a ``TestEventPattern`` event (the API reference also lists
#: ``resources``, but AWS accepts events without it).
REQUIRED_FIELDS: Final = ("id", "account", "source", "time", "region", "detail-type")


def validate_event_envelope(event: EventSource) -> Any:
    """Parse ``event`` and check it has the EventBridge envelope; return the parsed tree.

    Raises `InvalidEvent` (``ValidationException: Parameter Event is not valid.``) when the
    event is not a JSON object or lacks one of `REQUIRED_FIELDS`.
    """
    tree = parse_event(event)
    if isinstance(tree, JsonObject):
        keys = {key for key, _ in tree}
    elif isinstance(tree, Mapping):
        keys = set(tree)
    else:
        raise InvalidEvent()
    if not all(name in keys for name in REQUIRED_FIELDS):
        raise InvalidEvent()
    return tree
