"""`compile_pattern` and the `CompiledPattern` it returns."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pizzabus.patterns.compiler import compile_tree
from pizzabus.patterns.errors import InvalidEvent, InvalidEventPattern
from pizzabus.patterns.flatten import Leaves, PathPlan
from pizzabus.patterns.jsontext import (
    JsonObject,
    PatternNumber,
    decode_text,
    loads_event,
    loads_pattern,
)
from pizzabus.patterns.match import Conditions, subrule_matches
from pizzabus.patterns.matchers import Condition

PatternSource = str | bytes | Mapping[str, Any]
#: JSON text, a mapping, or a tree from ``jsontext.loads_event`` (`validate_event_envelope`
#: returns one).
EventSource = str | bytes | Mapping[str, Any] | JsonObject


class CompiledPattern:
    """A validated event pattern: compile once, then `matches` many events."""

    __slots__ = ("plan", "source", "subrules")

    def __init__(self, subrules: tuple[Conditions, ...], source: PatternSource) -> None:
        #: The alternatives (more than one only with ``$or``); each maps sorted paths to conditions.
        self.subrules = subrules
        self.source = source
        self.plan = PathPlan(path for subrule in subrules for path, _ in subrule)

    def matches(self, event: EventSource) -> bool:
        """Whether ``event`` (JSON text or a mapping) matches the pattern."""
        return self.matches_leaves(self.plan.flatten(parse_event(event)))

    def matches_leaves(self, leaves: Leaves) -> bool:
        """Whether already flattened leaves match (they must cover this pattern's paths)."""
        return any(subrule_matches(subrule, leaves) for subrule in self.subrules)

    def __repr__(self) -> str:
        return f"CompiledPattern({self.source!r})"


def compile_pattern(pattern: PatternSource) -> CompiledPattern:
    """Validate and compile an EventBridge event pattern (JSON text or a mapping).

    Raises `InvalidEventPattern` with AWS's message for the first fault in document order.
    """
    if isinstance(pattern, Mapping):
        tree, trailing = _from_python(pattern), None
    elif isinstance(pattern, str | bytes):
        try:
            text = decode_text(pattern)
        except UnicodeDecodeError as error:
            raise InvalidEventPattern.because(
                f"Invalid UTF-8 start byte {error.object[error.start]:#x}"
            ) from None
        tree, trailing = loads_pattern(text)
    else:
        raise TypeError(f"an event pattern is JSON text or a mapping, not {type(pattern).__name__}")
    rules = compile_tree(tree, trailing)
    subrules = tuple(
        tuple((path, Condition(rule[path])) for path in sorted(rule)) for rule in rules
    )
    return CompiledPattern(subrules, pattern)


def parse_event(event: EventSource) -> Any:
    """An event as a tree for `PathPlan.flatten`: mappings pass through, text is parsed strictly."""
    if type(event) is dict or isinstance(event, Mapping | JsonObject):
        return event
    if isinstance(event, str | bytes):
        try:
            return loads_event(decode_text(event))
        except (ValueError, RecursionError) as error:
            raise InvalidEvent() from error
    raise TypeError(f"an event is JSON text or a mapping, not {type(event).__name__}")


def _from_python(node: Any) -> Any:
    """A pattern given as Python data, in the shape the JSON reader produces."""
    if isinstance(node, Mapping):
        return JsonObject((key, _from_python(value)) for key, value in node.items())
    if isinstance(node, list | tuple):
        return [_from_python(item) for item in node]
    if isinstance(node, bool) or node is None or isinstance(node, str):
        return node
    if isinstance(node, int):
        return PatternNumber(str(node))
    if isinstance(node, float):
        if not math.isfinite(node):
            raise InvalidEventPattern.because(
                f"Non-standard token '{node}': enable "
                "`JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"
            )
        return PatternNumber(repr(node))
    raise TypeError(f"an event pattern holds JSON values only, not {type(node).__name__}")
