"""The EventBridge event-pattern engine: pure, no I/O, no asyncio.

Compile once, match many times::

    pattern = compile_pattern('{"source": ["pizza.orders"]}')
    pattern.matches(event)                    # event: JSON text, bytes or a dict

    rules = RuleSet()
    rules.add("cook", '{"detail-type": ["OrderPlaced"]}')
    rules.matching(event)                     # ["cook"]

``SPEC.md`` in the shared conformance folder is the reference. The modules, in the order data
flows through them:

- ``jsontext``  strict JSON that keeps number text, key order and duplicate keys, and words
  syntax errors as Jackson does;
- ``compiler``  pattern tree → sub-rules (``$or`` expanded), validated in document order with
  AWS's messages; ``textmatch`` and ``cidr`` parse the operands that need it;
- ``matchers``  the value-level operators and `Condition` (one path's OR-ed matchers);
- ``values``    the canonical leaf values, where ``true`` is never ``1``;
- ``flatten``   event → leaves at the paths some rule reads, with array membership;
- ``match``     one sub-rule against the leaves, array-consistently;
- ``compiled``  `compile_pattern` and `CompiledPattern`; ``ruleset`` the shared `RuleSet`;
- ``envelope``  the envelope check of ``TestEventPattern``.

Decisions where event-ruler (the library behind EventBridge) has quirks AWS has not confirmed:

1. **Case folding of astral characters** (emoji and other code points above U+FFFF). event-ruler
   folds UTF-16 halves and garbles each into ``?``, so an ``equals-ignore-case`` pattern holding
   an emoji never matches the identical text but does match ``??``. We fold whole code points
   instead: the emoji matches itself, ``??`` does not match it, and ``anything-but``
   ``equals-ignore-case`` with an emoji excludes that text. Characters of the Basic
   Multilingual Plane fold exactly as event-ruler folds them (``ß`` accepts ``SS``, not the
   reverse; a titlecase ``ǅ`` does not even accept itself).
2. **``exists: false`` under arrays of objects.** event-ruler judges absence only against the
   fields that sort before it, so its answer depends on how keys are spelled. We judge absence
   after every other path of the sub-rule has chosen its array element, which is event-ruler's
   answer whenever the absent key sorts last, and the same answer for every spelling.
3. **IP-shaped exact strings** (``["10.0.0.1"]``, ``["2001:db8::1"]``). As event-ruler does, they
   match any spelling of the same address (``2001:0db8:0:0:0:0:0:1``), IPv4-mapped IPv6 in hex
   included, since that is what AWS's own library compiles them to.

Other choices, each flagged where it is made: an empty list inside ``anything-but``'s
``prefix``/``suffix``/``equals-ignore-case``/``wildcard`` is invalid (``Empty arrays are not
allowed``; event-ruler accepts it and then fails while matching); ``$or`` forms that only
event-ruler's legacy compiler accepts are invalid; text after the pattern's closing brace is an
error; numbers use the full double range (event-ruler >= 1.8); the wildcard complexity limit is
a close stand-in for event-ruler's evaluator (``textmatch.wildcard_complexity``).
"""

from __future__ import annotations

from pizzabus.patterns.compiled import CompiledPattern, compile_pattern
from pizzabus.patterns.envelope import REQUIRED_FIELDS, validate_event_envelope
from pizzabus.patterns.errors import InvalidEvent, InvalidEventPattern
from pizzabus.patterns.ruleset import RuleSet

__all__ = [
    "REQUIRED_FIELDS",
    "CompiledPattern",
    "InvalidEvent",
    "InvalidEventPattern",
    "RuleSet",
    "compile_pattern",
    "validate_event_envelope",
]
