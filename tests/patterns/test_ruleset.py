"""RuleSet: named patterns sharing one index."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from pizzabus.patterns import InvalidEventPattern, RuleSet, compile_pattern
from pizzabus.patterns.matchers import Exact

from .conftest import envelope


def _rules(**patterns: object) -> RuleSet:
    rules = RuleSet()
    for name, pattern in patterns.items():
        rules.add(name, pattern)  # type: ignore[arg-type]
    return rules


def test_matching_names_the_rules_in_the_order_they_were_added() -> None:
    rules = _rules(
        zeta={"source": ["pizza.orders"]},
        alpha={"detail-type": ["Order Placed"]},
        other={"source": ["elsewhere"]},
    )
    assert rules.matching(envelope()) == ["zeta", "alpha"]


def test_adding_a_name_again_replaces_the_rule_in_its_place() -> None:
    rules = _rules(first={"source": ["pizza.orders"]}, second={"source": ["pizza.orders"]})
    rules.add("first", {"source": ["elsewhere"]})
    assert rules.matching(envelope()) == ["second"]
    rules.add("first", {"source": ["pizza.orders"]})
    assert rules.matching(envelope()) == ["first", "second"]
    assert len(rules) == 2


def test_removing_a_rule_stops_it_matching_and_unknown_names_raise() -> None:
    rules = _rules(cook={"source": ["pizza.orders"]})
    rules.remove("cook")
    assert rules.matching(envelope()) == []
    assert "cook" not in rules
    with pytest.raises(KeyError, match="cook"):
        rules.remove("cook")


def test_adding_an_invalid_pattern_raises_and_keeps_the_rule_set() -> None:
    rules = _rules(cook={"source": ["pizza.orders"]})
    with pytest.raises(InvalidEventPattern):
        rules.add("bad", {"source": []})
    assert "bad" not in rules
    assert rules.matching(envelope()) == ["cook"]


def test_compiled_patterns_text_and_dicts_are_all_accepted() -> None:
    rules = RuleSet()
    rules.add("compiled", compile_pattern({"source": ["pizza.orders"]}))
    rules.add("text", '{"source": [{"prefix": "pizza."}]}')
    rules.add("bytes", b'{"detail": {"size": [{"numeric": [">", 10]}]}}')
    assert rules.matching(envelope(size=12)) == ["compiled", "text", "bytes"]


def test_every_kind_of_condition_is_found_through_the_index() -> None:
    rules = _rules(
        exact={"detail": {"v": ["a"]}},
        number={"detail": {"v": [5]}},
        prefix={"detail": {"v": [{"prefix": "ab"}]}},
        suffix={"detail": {"v": [{"suffix": "bc"}]}},
        eic={"detail": {"v": [{"equals-ignore-case": "ABC"}]}},
        eic_prefix={"detail": {"v": [{"prefix": {"equals-ignore-case": "AB"}}]}},
        eic_suffix={"detail": {"v": [{"suffix": {"equals-ignore-case": "BC"}}]}},
        numeric={"detail": {"v": [{"numeric": [">", 4]}]}},
        exists={"detail": {"v": [{"exists": True}]}},
        absent={"detail": {"w": [{"exists": False}]}},
        anything_but={"detail": {"v": [{"anything-but": "zzz"}]}},
        wildcard={"detail": {"v": [{"wildcard": "a*c"}]}},
        ip={"detail": {"ip": ["2001:db8::1"]}},
        cidr={"detail": {"ip": [{"cidr": "2001:db8::/64"}]}},
    )
    assert rules.matching(envelope(v="abc", ip="2001:0db8::0001")) == [
        "prefix",
        "suffix",
        "eic",
        "eic_prefix",
        "eic_suffix",
        "exists",
        "absent",
        "anything_but",
        "wildcard",
        "ip",
        "cidr",
    ]
    assert rules.matching(envelope(v=5)) == [
        "number",
        "numeric",
        "exists",
        "absent",
        "anything_but",
    ]


def test_array_consistency_is_checked_for_rule_set_candidates() -> None:
    rules = _rules(
        same={"e": {"f": ["Anna"], "l": ["Smith"]}}, mixed={"e": {"f": ["Anna"], "l": ["Doe"]}}
    )
    event = {"e": [{"f": "John", "l": "Doe"}, {"f": "Anna", "l": "Smith"}]}
    assert rules.matching(event) == ["same"]


def test_matching_is_safe_from_many_threads_while_rules_change() -> None:
    rules = _rules(
        **{f"r{i}": {"source": ["pizza.orders"], "detail": {"n": [i]}} for i in range(50)}
    )
    wrong: list[tuple[int, list[str]]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(5)
    readers_done = threading.Event()

    def reader() -> None:
        try:
            start.wait()
            for i in range(300):
                got = rules.matching(envelope(n=i % 50))
                if got != [f"r{i % 50}"]:  # exactly its rule: a race that drops it fails
                    wrong.append((i % 50, got))
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    def writer() -> None:
        start.wait()
        k = 0
        while not readers_done.is_set():  # keeps changing the same index the readers use
            rules.add(f"extra{k}", {"source": ["pizza.orders"], "detail": {"n": [1000 + k]}})
            rules.remove(f"extra{k}")
            k += 1

    threads = [threading.Thread(target=reader) for _ in range(4)]
    changing = threading.Thread(target=writer)
    for thread in [*threads, changing]:
        thread.start()
    for thread in threads:
        thread.join()
    readers_done.set()
    changing.join()
    assert errors == []
    assert wrong == []
    assert rules.matching(envelope(n=7)) == ["r7"]


def test_an_ip_address_no_rule_names_passes_the_ip_index_by() -> None:
    rules = _rules(ip={"a": ["10.0.0.1"]}, other={"a": [{"prefix": "10."}]})
    assert rules.matching({"a": "10.0.0.2"}) == ["other"]
    assert rules.matching({"a": "10.000.0.1"}) == ["ip", "other"]


@pytest.mark.parametrize(
    ("pattern", "value"),
    [
        pytest.param({"suffix": "bc"}, "bc", id="suffix"),
        pytest.param({"prefix": "bc"}, "bc", id="prefix"),
        pytest.param({"suffix": {"equals-ignore-case": "BC"}}, "bc", id="suffix-eic"),
        pytest.param({"prefix": {"equals-ignore-case": "BC"}}, "bc", id="prefix-eic"),
        pytest.param({"equals-ignore-case": "BC"}, "bc", id="eic"),
    ],
)
def test_an_operand_as_long_as_the_value_is_found_through_the_index(
    pattern: dict[str, object], value: str
) -> None:
    rules = _rules(whole={"a": [pattern]}, longer={"a": [{"suffix": "abc"}, {"prefix": "bcd"}]})
    assert rules.matching({"a": value}) == ["whole"]
    assert rules.matching({"a": "x" + value + "x"}) == []


def _trail(rules: RuleSet, name: str) -> tuple[list[str], list[str], object]:
    """The paths of the trie steps down to ``name``'s sub-rule, the paths checked there
    directly, and the node it ends at."""
    index = rules._rebuild()
    position = index.names.index(name)

    def walk(node: Any, trail: list[str]) -> tuple[list[str], list[str], object] | None:
        for entry in node.terminals:
            if entry.rule == position:
                return trail, [path for path, _ in entry.residual], node
        for (path, _), child in node.children.items():
            found = walk(child, [*trail, path])
            if found:
                return found
        return None

    found = walk(index.root, [])
    assert found is not None
    return found


def test_the_trie_takes_the_most_selective_conditions_first_and_shares_nodes() -> None:
    """The index's promise (module docstring): exact conditions first, the paths with the most
    distinct values first among them; then prefix/suffix/ASCII case folding; then numeric and
    exists; what cannot be indexed is checked where the steps end. Equal first steps share
    nodes, so the cost does not grow with the rules."""
    rules = _rules(
        one={
            "source": ["s"],
            "detail-type": ["t1"],
            "m": ["1", {"prefix": "2"}],
            "c": [{"equals-ignore-case": "AB"}],
            "p": [{"prefix": "x"}],
            "n": [{"numeric": [">", 1]}],
            "x": [{"exists": True}],
            "w": [{"wildcard": "a*"}],
            "e": [{"equals-ignore-case": "é"}],
            "f": [{"exists": False}],
        },
        two={"source": ["s"], "detail-type": ["t2"]},
        three={"source": ["s"], "detail-type": ["t1"]},
    )
    steps, residual, _ = _trail(rules, "one")
    assert steps == ["detail-type", "source", "m", "c", "p", "n", "x"]
    assert residual == ["e", "f", "w"]
    three_steps, three_residual, three_node = _trail(rules, "three")
    assert (three_steps, three_residual) == (["detail-type", "source"], [])
    root = rules._rebuild().root
    assert len(root.children) == 2  # t1 and t2; "one" and "three" share the first two nodes
    first = root.children[("detail-type", frozenset({Exact("t1")}))]
    assert three_node is first.children[("source", frozenset({Exact("s")}))]
    assert root.edges["detail-type"].exact_only is True
    assert three_node.edges["m"].exact_only is False  # type: ignore[attr-defined]
