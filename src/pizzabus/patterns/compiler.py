"""Pattern document → sub-rules, validated in document order with AWS's words.

This follows event-ruler's ``JsonRuleCompiler`` step by step over the parsed tree: members are
visited in document order (duplicate keys included, the last one winning), each check happens
where the streaming compiler would make it, and a `SyntaxFault` left by the JSON reader is
reported when the walk reaches it. ``$or`` expands into a list of sub-rules: each member is
compiled into its own copy of the sub-rules so far, and a path written later overwrites an
earlier one in every current sub-rule (last write wins).
"""

from __future__ import annotations

from typing import Any, Final, NoReturn

from pizzabus.patterns.cidr import looks_like_ip, parse_cidr, parse_ip
from pizzabus.patterns.errors import InvalidEventPattern
from pizzabus.patterns.jsontext import JsonObject, PatternNumber, SyntaxFault
from pizzabus.patterns.matchers import (
    AnythingBut,
    AnythingButText,
    Cidr,
    EqualsIgnoreCase,
    Exact,
    Exists,
    Matcher,
    Numeric,
    Prefix,
    Suffix,
    Wildcard,
)
from pizzabus.patterns.textmatch import COMPLEXITY_LIMIT, parse_wildcard, wildcard_complexity
from pizzabus.patterns.values import FALSE, NULL, TRUE, Leaf, number_leaf, representable

OR: Final = "$or"
ONE_KEY: Final = "Only one key allowed in match expression"
TOO_MANY: Final = "Too many elements in numeric expression"
TOO_COMPLEX: Final = (
    "Rule is too complex - try using fewer wildcard characters or fewer repeating character "
    "sequences after a wildcard character"
)
RESERVED_IN_OR: Final = frozenset(
    {
        "exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists",
        "wildcard", "numeric", "cidr", "=", "<", "<=", ">", ">=", "regex", "not-wildcard",
        "not-equals-ignore-case", "date-after", "date-on-or-after", "date-before",
        "date-on-or-before", "in-date-range", "ip-address-in-range", "ip-address-not-in-range",
    }
)  # fmt: skip
_END: Final = object()  # the end of an array, where a streaming parser would see "]"

RawRule = dict[str, list[Matcher]]


def _fail(reason: str) -> NoReturn:
    raise InvalidEventPattern.because(reason)


def _read(node: Any) -> Any:
    """The node, unless the JSON text stopped being JSON there."""
    if isinstance(node, SyntaxFault):
        _fail(node.message)
    return node


def _token_text(node: Any) -> str:
    """What Jackson's ``getText()`` gives for the token that starts ``node``."""
    if node is _END:
        return "]"
    if isinstance(node, JsonObject):
        return "{"
    if isinstance(node, list):
        return "["
    if isinstance(node, PatternNumber):
        return node.text
    # Only a literal is left: the callers never ask for a string's text (a string is an operator).
    return {True: "true", False: "false", None: "null"}[node]


def compile_tree(tree: Any, trailing: SyntaxFault | None) -> list[RawRule]:
    """Sub-rules of a parsed pattern; raises `InvalidEventPattern` on the first fault."""
    _read(tree)
    if not isinstance(tree, JsonObject):
        _fail("Filter is not an object")
    rules: list[RawRule] = []
    _object(tree, rules, None, inside_or=False)
    if trailing is not None:
        _fail(trailing.message)
    _check_complexity(rules)
    return rules


def _object(
    members: JsonObject, rules: list[RawRule], prefix: str | None, *, inside_or: bool
) -> None:
    if not members:
        _fail("Empty objects are not allowed")
    for key, value in members:
        _read(key)
        if key == OR:
            _or(value, rules, prefix)
            continue
        if inside_or and key in RESERVED_IN_OR:
            _fail(f"{key} is Ruler reserved fieldName which cannot be used inside {OR}.")
        _read(value)
        path = key if prefix is None else f"{prefix}.{key}"
        if isinstance(value, JsonObject):
            _object(value, rules, path, inside_or=inside_or)
        elif isinstance(value, list):
            _write(value, rules, path)
        else:
            _fail(f'"{key}" must be an object or an array')


def _or(value: Any, rules: list[RawRule], prefix: str | None) -> None:
    current = [dict(rule) for rule in rules]
    rules.clear()
    if not isinstance(_read(value), list) or isinstance(value, JsonObject):
        _fail(f"It must be an Array followed with {OR}.")
    for member in value:
        if not isinstance(_read(member), JsonObject):
            _fail(f"Only JSON object is allowed in array of {OR} relationship.")
        branch = [dict(rule) for rule in current] or [{}]
        _object(member, branch, prefix, inside_or=True)
        rules.extend(branch)
    if len(value) < 2:
        _fail(f"There must have at least 2 Objects in {OR} relationship.")


def _write(items: list[Any], rules: list[RawRule], path: str) -> None:
    matchers: list[Matcher] = []
    for item in items:
        _read(item)
        if isinstance(item, JsonObject):
            matchers.append(_match_expression(item))
        elif isinstance(item, str):
            ip = parse_ip(item) if looks_like_ip(item) else None
            matchers.append(Exact(item, ip))
        elif isinstance(item, PatternNumber):
            matchers.append(Exact(number_leaf(item.text)))
        elif item is True or item is False or item is None:
            matchers.append(Exact({True: TRUE, False: FALSE, None: NULL}[item]))
        else:
            _fail("Match value must be String, number, true, false, or null")
    if not matchers:
        _fail("Empty arrays are not allowed")
    if not rules:
        rules.append({})
    for rule in rules:
        rule[path] = matchers


def _no_more(rest: JsonObject, reason: str = ONE_KEY) -> None:
    if rest:
        _read(rest[0][0])
        _fail(reason)


def _string_operand(value: Any, reason: str) -> str:
    if not isinstance(_read(value), str):
        _fail(reason)
    return value  # type: ignore[no-any-return]


def _match_expression(expression: JsonObject) -> Matcher:
    if not expression:
        _fail("Match expression name not found")
    name, value = expression[0]
    _read(name)
    rest = JsonObject(expression[1:])
    matcher: Matcher
    if name == "exactly":
        matcher = Exact(_string_operand(value, "exact match pattern must be a string"))
    elif name in ("prefix", "suffix"):
        if isinstance(_read(value), JsonObject):
            matcher = _nested_ignore_case(value, name)
        else:
            text = _string_operand(value, f"{name} match pattern must be a string")
            matcher = Prefix(text) if name == "prefix" else Suffix(text)
    elif name == "numeric":
        if not isinstance(_read(value), list) or isinstance(value, JsonObject):
            _fail("Value of numeric must be an array.")
        matcher = _numeric(value)
        _no_more(rest, TOO_MANY)
    elif name == "anything-but":
        matcher = _anything_but(value)
        _no_more(rest, TOO_MANY)
    elif name == "exists":
        if _read(value) is not True and value is not False:
            _fail("exists match pattern must be either true or false.")
        matcher = Exists(present=value)
    elif name == "cidr":
        matcher = Cidr(*parse_cidr(_string_operand(value, "prefix match pattern must be a string")))
    elif name == "equals-ignore-case":
        text = _string_operand(value, "equals-ignore-case match pattern must be a string")
        matcher = EqualsIgnoreCase(text)
    elif name == "wildcard":
        text = _string_operand(value, "wildcard match pattern must be a string")
        matcher = Wildcard(text, parse_wildcard(text))
    else:
        _fail(f"Unrecognized match type {name}")
    _no_more(rest)
    return matcher


def _nested_ignore_case(inner: JsonObject, operator: str) -> Matcher:
    title = operator.capitalize()
    if not inner:
        _fail(f"{title} expression name not found")
    name, value = inner[0]
    if _read(name) != "equals-ignore-case":
        _fail(f"Unsupported {operator} pattern: {name}")
    text = _string_operand(value, "equals-ignore-case match pattern must be a string")
    _no_more(JsonObject(inner[1:]))
    return EqualsIgnoreCase(text, operator)


def _comparable(number: PatternNumber) -> float:
    value = representable(number.text)
    if value is None:
        _fail(f"Cannot compare number : {number.text}")
    return value


def _numeric(items: list[Any]) -> Numeric:
    def token(index: int) -> Any:
        return _read(items[index]) if index < len(items) else _END

    operator = token(0)
    if not isinstance(operator, str):
        _fail(f"Invalid member in numeric match: {_token_text(operator)}")
    value = token(1)
    if operator in ("=", "<", "<="):
        if not isinstance(value, PatternNumber):
            _fail(f"Value of {'equals' if operator == '=' else operator} must be numeric")
        if token(2) is not _END:
            _fail(TOO_MANY)
        number = _comparable(value)
        if operator == "=":
            return Numeric(number, False, number, False)
        return Numeric(None, False, number, operator == "<")
    if operator not in (">", ">="):
        _fail(f"Unrecognized numeric range operator: {operator}")
    if not isinstance(value, PatternNumber):
        _fail(f"Value of {operator} must be numeric")
    upper = token(2)
    if upper is _END:
        return Numeric(_comparable(value), operator == ">", None, False)
    if not isinstance(upper, str):
        _fail(f"Bad value in numeric range: {_token_text(upper)}")
    if upper not in ("<", "<="):
        _fail(f"Bad numeric range operator: {upper}")
    top = token(3)
    if not isinstance(top, PatternNumber):
        _fail(f"Value of {upper} must be numeric")
    if token(4) is not _END:
        _fail("Too many terms in numeric range expression")
    low, high = _comparable(value), _comparable(top)
    if low >= high:
        _fail("Bottom must be less than top")
    return Numeric(low, operator == ">", high, upper == "<")


_TEXT_KINDS: Final = {
    "prefix": "prefix/suffix match pattern must be a string",
    "suffix": "prefix/suffix match pattern must be a string",
    "equals-ignore-case": (
        "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
    ),
    "wildcard": "wildcard match pattern must be a string",
}


def _anything_but(value: Any) -> Matcher:
    kind: str | None = None
    inner_rest = JsonObject()
    if isinstance(_read(value), JsonObject):
        if not value:
            _fail("Anything-But expression name not found")
        kind, operand = value[0]
        if _read(kind) not in _TEXT_KINDS:
            _fail(f"Unsupported anything-but pattern: {kind}")
        inner_rest = JsonObject(value[1:])
        value = _read(operand)
    is_list = isinstance(value, list) and not isinstance(value, JsonObject)
    if not (is_list or isinstance(value, str | PatternNumber)):
        _fail("Value of anything-but must be an array or single string/number value.")
    if kind is None:
        if is_list:
            return _anything_but_list(value)
        if isinstance(value, str):
            return AnythingBut(frozenset({value}))
        return AnythingBut(frozenset({_comparable(value)}))
    texts = _anything_but_texts(value if is_list else [value], kind)
    globs = tuple(parse_wildcard(text) for text in texts) if kind == "wildcard" else ()
    _no_more(inner_rest, TOO_MANY)
    return AnythingButText(kind, texts, globs)


def _anything_but_texts(items: list[Any], kind: str) -> tuple[str, ...]:
    texts: list[str] = []
    for item in items:
        if not isinstance(_read(item), str):
            _fail(_TEXT_KINDS[kind])
        if not item and kind in ("prefix", "suffix"):
            _fail("Null prefix/suffix not allowed")
        texts.append(item)
    if not texts:
        # event-ruler accepts an empty list here and then fails while matching (NPE).
        _fail("Empty arrays are not allowed")
    return tuple(texts)


def _anything_but_list(items: list[Any]) -> AnythingBut:
    excluded: set[Leaf] = set()
    kinds: set[type] = set()
    for item in items:
        if isinstance(_read(item), str):
            excluded.add(item)
            kinds.add(str)
        elif isinstance(item, PatternNumber):
            excluded.add(_comparable(item))
            kinds.add(float)
        else:
            _fail("Inside anything but list, start|null|boolean is not supported.")
    if len(kinds) != 1:
        _fail(
            "Inside anything but list, either all values are number or string, "
            "mixed type is not supported"
        )
    return AnythingBut(frozenset(excluded))


def _check_complexity(rules: list[RawRule]) -> None:
    """AWS's service-side limit on wildcards, summed per field over the whole rule."""
    per_path: dict[str, dict[str, int]] = {}
    for rule in rules:
        for path, matchers in rule.items():
            for matcher in matchers:
                if isinstance(matcher, Wildcard):
                    globs = {matcher.text: matcher.glob}
                elif isinstance(matcher, AnythingButText) and matcher.kind == "wildcard":
                    globs = dict(zip(matcher.texts, matcher.globs, strict=True))
                else:
                    continue
                scores = per_path.setdefault(path, {})
                for text, glob in globs.items():
                    if text not in scores:
                        scores[text] = wildcard_complexity(glob)
    for scores in per_path.values():
        if sum(scores.values()) >= COMPLEXITY_LIMIT:
            _fail(TOO_COMPLEX)
