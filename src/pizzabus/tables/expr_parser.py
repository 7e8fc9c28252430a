"""A recursive-descent parser for DynamoDB's expression language.

``parse(kind, text)`` turns the text of a ConditionExpression, FilterExpression,
KeyConditionExpression, UpdateExpression or ProjectionExpression into a :class:`Parsed` tree,
with the ``#names`` and ``:values`` it uses. Errors are ValidationExceptions worded as DynamoDB
words them (``Invalid ConditionExpression: Syntax error; token: "AND", near: "a AND AND"``).
Results are cached by text: handlers send the same few expressions over and over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from pizzabus.tables.conditions import (
    And,
    BeginsWith,
    Between,
    Checked,
    Compare,
    Condition,
    Contains,
    Exists,
    In,
    Not,
    Operand,
    Or,
    PathOperand,
    Size,
    TypeIs,
    ValueRef,
)
from pizzabus.tables.errors import TableValidationError
from pizzabus.tables.paths import Path
from pizzabus.tables.reserved import RESERVED_WORDS
from pizzabus.tables.updates import (
    Arithmetic,
    IfNotExists,
    ListAppend,
    Term,
    Update,
    ValueExpr,
)

CONDITION = "ConditionExpression"
FILTER = "FilterExpression"
KEY_CONDITION = "KeyConditionExpression"
UPDATE = "UpdateExpression"
PROJECTION = "ProjectionExpression"
#: DynamoDB's limit on the length of one expression.
MAX_EXPRESSION_BYTES = 4096

_TOKENS = re.compile(
    r"""\s*(?:
      (?P<name>\#[A-Za-z0-9_]+)
    | (?P<value>:[A-Za-z0-9_]+)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<number>[0-9]+)
    | (?P<op><>|<=|>=|[=<>(),.\[\]+\-])
    | (?P<bad>\S)
    )""",
    re.VERBOSE,
)
_COMPARATORS = frozenset({"=", "<>", "<", "<=", ">", ">="})
_CONDITION_FUNCTIONS = frozenset(
    {"attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains"}
)
_UPDATE_FUNCTIONS = frozenset({"if_not_exists", "list_append"})
_ARITY = {
    "attribute_exists": 1,
    "attribute_not_exists": 1,
    "attribute_type": 2,
    "begins_with": 2,
    "contains": 2,
    "size": 1,
    "if_not_exists": 2,
    "list_append": 2,
}
_UPDATE_CLAUSES = ("SET", "REMOVE", "ADD", "DELETE")


class _Token(NamedTuple):
    kind: str  # name, value, ident, number, op, bad, eof
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Parsed:
    """One parsed expression: its tree and the placeholders it uses."""

    kind: str
    text: str
    root: Any  # Condition, Update, or tuple[Path, ...] for a projection
    names: frozenset[str]
    values: frozenset[str]
    checks: tuple[Checked, ...]
    #: The first element of every path, placeholders unresolved (``a`` of ``a.b``, or ``#a``).
    tops: frozenset[str]


@lru_cache(maxsize=2048)
def parse(kind: str, text: str) -> Parsed:
    """Parse ``text`` as an expression of ``kind`` (``"ConditionExpression"``, ...)."""
    return _Parser(kind, text).parse()


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    position = 0
    while True:
        match = _TOKENS.match(text, position)
        if match is None or match.lastgroup is None:
            break
        tokens.append(
            _Token(
                match.lastgroup, match[match.lastgroup], match.start(match.lastgroup), match.end()
            )
        )
        position = match.end()
    tokens.append(_Token("eof", "<EOF>", len(text), len(text)))
    return tokens


class _Parser:
    def __init__(self, kind: str, text: str) -> None:
        self.kind = kind
        self.text = text
        self.tokens = _tokenize(text)
        self.at = 0
        self.names: set[str] = set()
        self.values: set[str] = set()
        self.checks: list[Checked] = []
        self.tops: set[str] = set()

    # -- the entry point ----------------------------------------------------------------------

    def parse(self) -> Parsed:
        if self.tokens[0].kind == "eof":
            raise self.fail("The expression can not be empty;")
        size = len(self.text.encode())
        if size > MAX_EXPRESSION_BYTES:
            raise self.fail(
                f"Expression size has exceeded the maximum allowed size; expression size: {size}"
            )
        for token in self.tokens:
            if token.kind == "bad":
                self.at = self.tokens.index(token)
                raise self.syntax_error()
        root: Any
        if self.kind == UPDATE:
            root = self.update()
            self.checks.append(root)
        elif self.kind == PROJECTION:
            root = self.projection()
        else:
            root = self.condition()
        if self.peek().kind != "eof":
            raise self.syntax_error()
        return Parsed(
            self.kind,
            self.text,
            root,
            frozenset(self.names),
            frozenset(self.values),
            tuple(self.checks),
            frozenset(self.tops),
        )

    # -- tokens -------------------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.at + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.at = min(self.at + 1, len(self.tokens) - 1)
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token.kind == "ident" and token.text.upper() == word:
            self.at += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if self.peek().text != text or self.peek().kind not in ("op",):
            raise self.syntax_error()
        self.at += 1

    def fail(self, message: str) -> TableValidationError:
        return TableValidationError(f"Invalid {self.kind}: {message}")

    def syntax_error(self) -> TableValidationError:
        token = self.peek()
        before = self.tokens[self.at - 1] if self.at > 0 else token
        after = self.tokens[min(self.at + 1, len(self.tokens) - 1)]
        near = self.text[before.start : max(after.end, token.end)]
        return self.fail(f'Syntax error; token: "{token.text}", near: "{near}"')

    # -- conditions ---------------------------------------------------------------------------

    def condition(self) -> Condition:
        left = self.conjunction()
        while self.keyword("OR"):
            left = Or(left, self.conjunction())
        return left

    def conjunction(self) -> Condition:
        left = self.negation()
        while self.keyword("AND"):
            left = And(left, self.negation())
        return left

    def negation(self) -> Condition:
        if self.keyword("NOT"):
            return Not(self.negation())
        return self.predicate()

    def predicate(self) -> Condition:
        token = self.peek()
        if token.kind == "op" and token.text == "(":
            self.take()
            inner = self.condition()
            self.expect(")")
            return inner
        if self.is_call():
            name = self.peek().text
            if name in _CONDITION_FUNCTIONS:
                return self.condition_function()
            if name != "size":
                raise self.function_misuse(name)
        subject = self.operand()
        token = self.peek()
        if token.kind == "op" and token.text in _COMPARATORS:
            self.take()
            node = Compare(token.text, subject, self.operand())
            if token.text not in ("=", "<>"):  # equality takes values of any type
                self.checks.append(node)
            return node
        if self.keyword("BETWEEN"):
            low = self.operand()
            if not self.keyword("AND"):
                raise self.syntax_error()
            between = Between(subject, low, self.operand())
            self.checks.append(between)
            return between
        if self.keyword("IN"):
            return self.in_list(subject)
        raise self.syntax_error()

    def in_list(self, subject: Operand) -> Condition:
        self.expect("(")
        options = [self.operand()]
        while self.peek().text == ",":
            self.take()
            options.append(self.operand())
        self.expect(")")
        if len(options) > 100:
            raise self.fail(
                "The IN operator is provided with too many operands; number of operands: "
                f"{len(options)}"
            )
        return In(subject, tuple(options))

    def is_call(self) -> bool:
        return self.peek().kind == "ident" and self.peek(1).text == "("

    def function_misuse(self, name: str) -> TableValidationError:
        if name in _CONDITION_FUNCTIONS and self.kind == UPDATE:
            return self.fail(
                f"The function is not allowed in an update expression; function: {name}"
            )
        if name in _UPDATE_FUNCTIONS and self.kind != UPDATE:
            return self.fail(
                f"The function is not allowed in a condition expression; function: {name}"
            )
        if name in _ARITY:
            return self.fail(
                "The function is not allowed to be used this way in an expression; "
                f"function: {name}"
            )
        return self.fail(f"Invalid function name; function: {name}")

    def arguments(self, name: str) -> list[Operand]:
        self.take()  # the name
        self.expect("(")
        args = [self.operand()]
        while self.peek().text == ",":
            self.take()
            args.append(self.operand())
        self.expect(")")
        if len(args) != _ARITY[name]:
            raise self.fail(
                f"Incorrect number of operands for operator or function; operator or function: "
                f"{name}, number of operands: {len(args)}"
            )
        return args

    def condition_function(self) -> Condition:
        name = self.peek().text
        args = self.arguments(name)
        first = args[0]
        if name in ("attribute_exists", "attribute_not_exists", "attribute_type"):
            if not isinstance(first, PathOperand):
                raise self.fail(
                    f"Operator or function requires a document path; operator or function: {name}"
                )
            if name == "attribute_type":
                node = TypeIs(first.path, args[1])
                self.checks.append(node)
                return node
            return Exists(first.path, name == "attribute_exists")
        if name == "begins_with":
            begins = BeginsWith(first, args[1])
            self.checks.append(begins)
            return begins
        return Contains(first, args[1])

    def operand(self) -> Operand:
        token = self.peek()
        if token.kind == "value":
            self.take()
            self.values.add(token.text)
            return ValueRef(token.text)
        if self.is_call():
            if token.text != "size":
                raise self.function_misuse(token.text)
            (arg,) = self.arguments("size")
            if not isinstance(arg, PathOperand):
                raise self.fail(
                    "Operator or function requires a document path; operator or function: size"
                )
            return Size(arg.path)
        return PathOperand(self.path())

    def path(self) -> Path:
        elements: list[str | int] = [self.path_name()]
        self.tops.add(str(elements[0]))
        while True:
            token = self.peek()
            if token.kind != "op" or token.text not in (".", "["):
                break
            self.take()
            if token.text == ".":
                elements.append(self.path_name())
            else:
                index = self.take()
                if index.kind != "number":
                    self.at -= 1
                    raise self.syntax_error()
                elements.append(int(index.text))
                self.expect("]")
        placeholders = any(type(e) is str and e[0] == "#" for e in elements)
        return Path(tuple(elements), placeholders)

    def path_name(self) -> str:
        token = self.peek()
        if token.kind == "name":
            self.take()
            self.names.add(token.text)
            return token.text
        if token.kind == "ident":
            if token.text.upper() in RESERVED_WORDS:
                raise self.fail(
                    f"Attribute name is a reserved keyword; reserved keyword: {token.text}"
                )
            self.take()
            return token.text
        raise self.syntax_error()

    # -- projections --------------------------------------------------------------------------

    def projection(self) -> tuple[Path, ...]:
        paths = [self.path()]
        while self.peek().text == "," and self.peek().kind == "op":
            self.take()
            paths.append(self.path())
        return tuple(paths)

    # -- updates ------------------------------------------------------------------------------

    def update(self) -> Update:
        clauses: dict[str, list[Any]] = {}
        while self.peek().kind != "eof":
            token = self.peek()
            clause = token.text.upper() if token.kind == "ident" else ""
            if clause not in _UPDATE_CLAUSES:
                raise self.syntax_error()
            if clause in clauses:
                raise self.fail(
                    f'The "{clause}" section can only be used once in an update expression;'
                )
            self.take()
            actions = [self.action(clause)]
            while self.peek().text == "," and self.peek().kind == "op":
                self.take()
                actions.append(self.action(clause))
            clauses[clause] = actions
        return Update(
            sets=tuple(clauses.get("SET", ())),
            removes=tuple(clauses.get("REMOVE", ())),
            adds=tuple(clauses.get("ADD", ())),
            deletes=tuple(clauses.get("DELETE", ())),
        )

    def action(self, clause: str) -> Any:
        path = self.path()
        if clause == "REMOVE":
            return path
        if clause == "SET":
            self.expect("=")
            return (path, self.set_value())
        token = self.peek()
        if token.kind != "value":
            raise self.syntax_error()
        self.take()
        self.values.add(token.text)
        return (path, ValueRef(token.text))

    def set_value(self) -> ValueExpr:
        left = self.set_operand()
        token = self.peek()
        if token.kind == "op" and token.text in ("+", "-"):
            self.take()
            return Arithmetic(token.text, left, self.set_operand())
        return left

    def set_operand(self) -> ValueExpr:
        if not self.is_call():
            return Term(self.operand())
        name = self.peek().text
        if name not in _UPDATE_FUNCTIONS:
            raise self.function_misuse(name)
        self.take()
        self.expect("(")
        if name == "if_not_exists":
            path = self.path()
            self.expect(",")
            node: ValueExpr = IfNotExists(path, self.set_value())
        else:
            first = self.set_value()
            self.expect(",")
            node = ListAppend(first, self.set_value())
        self.expect(")")
        return node
