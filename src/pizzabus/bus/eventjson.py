"""JSON as the bus accepts it: strict, and within what every stage after it can process.

Whatever enters the bus is retried for a day when a stage cannot process it, so the edge
(the HTTP API, PutEvents, the WebSocket API, the admin API) parses bodies with
:func:`loads_strict`, which refuses with a message naming the problem:

- nesting deeper than EventBridge's 1,100 levels (counted without recursion, so a body nested a
  million levels deep costs one pass over it, not a crash);
- ``NaN``/``Infinity``, and numbers a double cannot hold (``1e400``): most consumers, a browser
  included, would read them as infinity or fail;
- lone UTF-16 surrogates (``"\\ud800"``): they cannot be written as UTF-8, so the first stage
  that encodes the text (a table write, a push to a socket) would fail, every time.

Python's C JSON parser recurses once per level and stops at the interpreter's recursion limit
(about 990 levels by default); :func:`ensure_nesting_headroom` raises the limit, once, so that
every level EventBridge accepts can be parsed and encoded again by each stage.
"""

from __future__ import annotations

import json
import math
import re
import sys
import threading
from typing import Any, Final

#: EventBridge's deepest nesting of an event's JSON.
MAX_NESTING: Final = 1100
#: Below this many brackets a text cannot be deep enough to matter: no scan is needed.
_SHALLOW: Final = 400
#: The recursion limit that leaves room for MAX_NESTING levels below a deep call stack.
_RECURSION_LIMIT: Final = MAX_NESTING * 3 + 1000

_TOKENS: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
#: An escaped backslash, a valid escaped surrogate pair, or a lone escaped surrogate.
_SURROGATES: Final = re.compile(
    r"\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
    r"|(\\u[dD][89a-fA-F][0-9a-fA-F]{2})"
)
_headroom = threading.Lock()


class JsonRefused(ValueError):
    """A text the bus will not accept, with a message saying why and what to do."""


def ensure_nesting_headroom() -> None:
    """Let the C JSON parser and encoder handle ``MAX_NESTING`` levels (raise-only, once)."""
    with _headroom:
        if sys.getrecursionlimit() < _RECURSION_LIMIT:
            sys.setrecursionlimit(_RECURSION_LIMIT)


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in ``text`` (strings skipped), in one flat pass."""
    depth = deepest = 0
    for token in _TOKENS.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def check_text(text: str) -> None:
    """Refuse what :func:`loads_strict` refuses before parsing: depth and lone surrogates."""
    if text.count("[") + text.count("{") > _SHALLOW:
        depth = nesting_depth(text)
        if depth > MAX_NESTING:
            raise JsonRefused(
                f"the JSON nests {depth} levels deep; at most {MAX_NESTING} are allowed "
                "(EventBridge's limit). Flatten the structure."
            )
        ensure_nesting_headroom()
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError as error:
            raise JsonRefused(
                f"the text holds a lone UTF-16 surrogate at character {error.start}, which "
                "UTF-8 cannot carry. Send valid Unicode."
            ) from error
    if "\\u" in text:
        for match in _SURROGATES.finditer(text):
            if match.group(1):
                raise JsonRefused(
                    f"the JSON holds a lone UTF-16 surrogate escape {match.group(1)!r} at "
                    f"character {match.start()}; escape a character outside the BMP as a "
                    "high-low pair (e.g. \\ud83c\\udf55), or send it as UTF-8."
                )


def _constant(name: str) -> Any:
    # Not JSON at all (rather than JSON refused): PutEvents answers AWS's plain message.
    raise ValueError(f"{name} is not a JSON number; send a finite number, a string or null")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise JsonRefused(
            f"the number {_shown(text)} is out of range (a double holds at most about "
            "1.8e308). Send it as a string."
        )
    return value


def _int(text: str) -> int:
    # Integers stay exact; only those with more digits than a double's largest value (309)
    # can be out of its range (and past 4,300 digits, int() itself refuses them).
    if len(text) > 308:
        _float(text)
    return int(text)


def _shown(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:20]}…({len(text)} characters)"


#: Built once: ``json.loads`` with keywords builds a new decoder on every call.
_DECODER: Final = json.JSONDecoder(parse_constant=_constant, parse_float=_float, parse_int=_int)


def loads_strict(text: str) -> Any:
    """Parse ``text`` as the bus accepts JSON; raises :class:`JsonRefused` (a ValueError,
    with a message naming the problem) or ValueError for text that is not JSON at all."""
    check_text(text)
    return _DECODER.decode(text)
