"""Strict JSON text in, trees that keep what a dict loses out.

Objects become `JsonObject` (members in document order, duplicate keys kept); pattern numbers
become `PatternNumber` (the exact text, for representability checks and error messages); event
numbers become leaves (`pizzabus.patterns.values`). ``NaN`` and ``Infinity`` are refused.

The fast path is the standard library's C parser with hooks. When it refuses a text, a small
scanner written after Jackson (the parser behind EventBridge) reads it again to word the error as
Jackson does, and returns the part it could read with a `SyntaxFault` where reading stopped, so
the compiler reports whichever fault comes first in document order, as a streaming parser does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from pizzabus.patterns.values import number_leaf

_WHITESPACE: Final = " \t\n\r"
_EXPECTING_VALUE: Final = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
_NON_NUMERIC: Final = "enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"


class JsonObject(list[tuple[Any, Any]]):
    """The members of a JSON object, in document order, duplicates kept."""


@dataclass(frozen=True, slots=True)
class PatternNumber:
    """A number in a pattern, as written."""

    text: str


@dataclass(frozen=True, slots=True)
class SyntaxFault:
    """Where a JSON text stopped being JSON, with Jackson's wording."""

    message: str


class _Refused(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _Refused(name)


def decode_text(text: str | bytes) -> str:
    """Text from str or UTF-8 bytes (a BOM is dropped)."""
    if isinstance(text, bytes):
        return text.decode("utf-8-sig")
    return text


def loads_pattern(text: str) -> tuple[Any, SyntaxFault | None]:
    """Parse pattern text; on a syntax error, the partial tree and the fault after it."""
    try:
        tree = json.loads(
            text,
            object_pairs_hook=JsonObject,
            parse_int=PatternNumber,
            parse_float=PatternNumber,
            parse_constant=_refuse_constant,
        )
    except (ValueError, RecursionError):
        return _Scanner(text).scan()
    return tree, None


def loads_event(text: str) -> Any:
    """Parse event text, numbers as leaves; raises ``ValueError`` on anything but strict JSON."""
    return json.loads(
        text,
        object_pairs_hook=JsonObject,
        parse_int=number_leaf,
        parse_float=number_leaf,
        parse_constant=_refuse_constant,
    )


def char_desc(char: str) -> str:
    """How Jackson names a character in an error message."""
    code = ord(char)
    if code < 32:
        return f"(CTRL-CHAR, code {code})"
    if code > 255:
        return f"'{char}' (code {code} / 0x{code:x})"
    return f"'{char}' (code {code})"


class _Stop(Exception):
    """Raised inside the scanner; the fault is already placed in the partial tree.

    Nothing reads the position once reading stopped, so a fault leaves ``pos`` where it was.
    """


def _member_of(members: JsonObject, key: str) -> Callable[[Any], None]:
    return lambda value: members.append((key, value))


class _Scanner:
    """A recursive-descent JSON reader that stops at the first fault, Jackson-style."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.fault: SyntaxFault | None = None

    def scan(self) -> tuple[Any, SyntaxFault | None]:
        self._skip()
        if self.pos >= len(self.text):
            return None, None
        holder: list[Any] = []
        try:
            self._value(holder.append)
            self._skip()
            if self.pos < len(self.text):
                self.fault = self._fault_at_value()
        except _Stop:
            pass
        except RecursionError:
            self.fault = SyntaxFault("Maximum nesting depth exceeded")
            holder[:] = [self.fault]
        # `_value` hands a value to `holder` before anything can stop it, so it holds one.
        return holder[0], self.fault

    def _stop(self, message: str) -> _Stop:
        self.fault = SyntaxFault(message)
        return _Stop()

    def _skip(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in _WHITESPACE:
            pos += 1
        self.pos = pos

    def _fault_at_value(self) -> SyntaxFault:
        """The fault of a character that cannot start a value (the caller saw there is one)."""
        text, pos = self.text, self.pos
        char = text[pos]
        if char.isalpha() or char == "_":
            end = pos
            while end < len(text) and (text[end].isalnum() or text[end] in "_$"):
                end += 1
            token = text[pos:end]
            if token in ("NaN", "Infinity"):
                return SyntaxFault(f"Non-standard token '{token}': {_NON_NUMERIC}")
            return SyntaxFault(f"Unrecognized token '{token}': was expecting {_EXPECTING_VALUE}")
        return SyntaxFault(
            f"Unexpected character ({char_desc(char)}): expected a valid value {_EXPECTING_VALUE}"
        )

    def _value(self, attach: Callable[[Any], None]) -> None:
        """Read one value and hand it to ``attach``: a container before it is filled, so a
        fault inside it stays in the partial tree; a faulty scalar as its `SyntaxFault`."""
        self._skip()
        text, pos = self.text, self.pos
        if pos < len(text) and text[pos] == "{":
            members = JsonObject()
            attach(members)
            self._object(members)
            return
        if pos < len(text) and text[pos] == "[":
            items: list[Any] = []
            attach(items)
            self._array(items)
            return
        try:
            attach(self._scalar())
        except _Stop:
            attach(self.fault)
            raise

    def _scalar(self) -> Any:
        text, pos = self.text, self.pos
        if pos >= len(text):
            raise self._stop("Unexpected end-of-input: expected a value")
        char = text[pos]
        if char == '"':
            return self._string()
        if char == "-" or char.isdigit():
            return self._number()
        for literal, value in (("true", True), ("false", False), ("null", None)):
            if text.startswith(literal, pos) and not (
                pos + len(literal) < len(text) and text[pos + len(literal)].isalnum()
            ):
                self.pos = pos + len(literal)
                return value
        self.fault = self._fault_at_value()
        raise _Stop()

    def _object(self, members: JsonObject) -> None:
        self.pos += 1
        self._skip()
        if self._peek() == "}":
            self.pos += 1
            return
        while True:
            self._skip()
            char = self._peek()
            if char != '"':
                self._fail_into(
                    members,
                    self._unexpected(
                        char, "was expecting double-quote to start field name", "Object"
                    ),
                    key=True,
                )
            try:
                key = self._string()
            except _Stop:
                members.append((self.fault, None))
                raise
            self._skip()
            char = self._peek()
            if char != ":":
                self._fail_into(
                    members,
                    self._unexpected(
                        char, "was expecting a colon to separate field name and value", "Object"
                    ),
                    key=False,
                    name=key,
                )
            self.pos += 1
            self._value(_member_of(members, key))
            self._skip()
            char = self._peek()
            if char == "}":
                self.pos += 1
                return
            if char != ",":
                self._fail_into(
                    members,
                    self._unexpected(
                        char, "was expecting comma to separate Object entries", "Object"
                    ),
                    key=True,
                )
            self.pos += 1

    def _array(self, items: list[Any]) -> None:
        self.pos += 1
        self._skip()
        if self._peek() == "]":
            self.pos += 1
            return
        while True:
            self._value(items.append)
            self._skip()
            char = self._peek()
            if char == "]":
                self.pos += 1
                return
            if char != ",":
                self.fault = self._unexpected(
                    char, "was expecting comma to separate Array entries", "Array"
                )
                items.append(self.fault)
                raise _Stop()
            self.pos += 1

    def _fail_into(
        self, members: JsonObject, fault: SyntaxFault, *, key: bool, name: str = ""
    ) -> None:
        self.fault = fault
        members.append((fault, None) if key else (name, fault))
        raise _Stop()

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _unexpected(self, char: str, expectation: str, container: str) -> SyntaxFault:
        if not char:
            return SyntaxFault(f"Unexpected end-of-input: expected close marker for {container}")
        return SyntaxFault(f"Unexpected character ({char_desc(char)}): {expectation}")

    def _string(self) -> str:
        text = self.text
        pos = self.pos + 1
        chunks: list[str] = []
        while True:
            if pos >= len(text):
                raise self._stop(
                    "Unexpected end-of-input: was expecting closing quote for a string value"
                )
            char = text[pos]
            if char == '"':
                self.pos = pos + 1
                return "".join(chunks)
            if char == "\\":
                pos = self._escape(pos, chunks)
                continue
            if ord(char) < 32:
                raise self._stop(
                    f"Illegal unquoted character ({char_desc(char)}): has to be escaped using "
                    "backslash to be included in string value"
                )
            chunks.append(char)
            pos += 1

    def _escape(self, pos: int, chunks: list[str]) -> int:
        text = self.text
        if pos + 1 >= len(text):
            raise self._stop("Unexpected end-of-input in character escape sequence")
        char = text[pos + 1]
        simple = {
            '"': '"',
            "\\": "\\",
            "/": "/",
            "b": "\b",
            "f": "\f",
            "n": "\n",
            "r": "\r",
            "t": "\t",
        }
        if char in simple:
            chunks.append(simple[char])
            return pos + 2
        if char == "u":
            digits = text[pos + 2 : pos + 6]
            if len(digits) == 4 and all(d in "0123456789abcdefABCDEF" for d in digits):
                chunks.append(chr(int(digits, 16)))
                return pos + 6
            bad = next((d for d in digits if d not in "0123456789abcdefABCDEF"), "")
            if not bad:
                raise self._stop("Unexpected end-of-input in character escape sequence")
            raise self._stop(
                f"Unexpected character ({char_desc(bad)}): "
                "expected a hex-digit for character escape sequence"
            )
        raise self._stop(f"Unrecognized character escape {char_desc(char)}")

    def _number(self) -> PatternNumber:
        text, start = self.text, self.pos
        pos = start
        if text[pos] == "-":
            pos += 1
            if pos >= len(text) or not text[pos].isdigit():
                char = text[pos] if pos < len(text) else ""
                if text.startswith("Infinity", pos):
                    raise self._stop(f"Non-standard token '-Infinity': {_NON_NUMERIC}")
                raise self._stop(
                    f"Unexpected character ({char_desc(char) if char else 'EOF'}) "
                    "in numeric value: "
                    "expected digit (0-9) to follow minus sign, for valid numeric value"
                )
        if text[pos] == "0" and pos + 1 < len(text) and text[pos + 1].isdigit():
            raise self._stop("Invalid numeric value: Leading zeroes not allowed")
        pos = self._digits(pos)
        if pos < len(text) and text[pos] == ".":
            after = self._digits(pos + 1)
            if after == pos + 1:
                raise self._stop(
                    self._number_fault(pos + 1, "Decimal point not followed by a digit")
                )
            pos = after
        if pos < len(text) and text[pos] in "eE":
            pos += 1
            if pos < len(text) and text[pos] in "+-":
                pos += 1
            after = self._digits(pos)
            if after == pos:
                raise self._stop(
                    self._number_fault(pos, "Exponent indicator not followed by a digit")
                )
            pos = after
        self.pos = pos
        return PatternNumber(text[start:pos])

    def _digits(self, pos: int) -> int:
        text = self.text
        while pos < len(text) and "0" <= text[pos] <= "9":
            pos += 1
        return pos

    def _number_fault(self, pos: int, what: str) -> str:
        char = self.text[pos] if pos < len(self.text) else ""
        if not char:
            return f"Unexpected end-of-input in numeric value: {what}"
        return f"Unexpected character ({char_desc(char)}) in numeric value: {what}"
