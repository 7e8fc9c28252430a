"""Events per second through pizzabus's RuleSet, beside LocalStack's and moto's matchers.

Run ``python -m benchmarks.bench_patterns`` (``--smoke`` for a few-second check). Results go to
``benchmarks/results/patterns.json``; ``benchmarks/README.md`` has the table and the machine.

The workload is a bus of many services: rule ``i`` belongs to service ``i // 4`` (its
``source``), names one or two ``detail-type`` values, and adds one more condition by kind:
exact list, prefix, numeric range, anything-but, exists, wildcard ARN, equals-ignore-case.
Events (~500 bytes, EventBridge envelopes as dicts, the bus's hot path) come from the same
services, so each event meets a handful of rules whatever the number of rules.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import platform
import random
import statistics
import sys
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pizzabus.patterns import RuleSet

RESULTS = Path(__file__).parent / "results" / "patterns.json"
DETAIL_TYPES = ["OrderPlaced", "OrderCooked", "OrderDelivered", "PaymentTaken", "OrderCancelled"]
STATUSES = ["placed", "cooking", "cooked", "delivering", "delivered", "cancelled"]
CHANNELS = ["web", "WEB", "Mobile", "phone", "kiosk"]

Matcher = Callable[[dict[str, Any]], int]


def make_rules(count: int, kinds: str, seed: int = 7) -> list[tuple[str, str]]:
    """``count`` named patterns (JSON text); ``kinds`` is "mixed" or "exact-prefix"."""
    rng = random.Random(seed)
    rules = []
    for i in range(count):
        pattern: dict[str, Any] = {
            "source": [f"com.pizzabus.service{i // 4}"],
            "detail-type": rng.sample(DETAIL_TYPES, rng.choice((1, 2))),
        }
        kind = i % 7 if kinds == "mixed" else i % 2
        detail: dict[str, Any] = {}
        if kind == 0:
            detail["status"] = rng.sample(STATUSES, 2)
        elif kind == 1:
            detail["orderId"] = [{"prefix": f"ord-{rng.randrange(10)}"}]
        elif kind == 2:
            low = rng.randrange(0, 80)
            detail["amount"] = [{"numeric": [">", low, "<=", low + rng.randrange(5, 40)]}]
        elif kind == 3:
            detail["status"] = [{"anything-but": rng.sample(STATUSES, 2)}]
        elif kind == 4:
            detail["customer"] = {"email": [{"exists": True}]}
        elif kind == 5:
            pattern["resources"] = [
                {"wildcard": f"arn:aws:states:us-east-1:*:stateMachine:pizza-{rng.randrange(3)}*"}
            ]
        else:
            detail["channel"] = [{"equals-ignore-case": rng.choice(("web", "mobile"))}]
        if detail:
            pattern["detail"] = detail
        rules.append((f"rule-{i}", json.dumps(pattern)))
    return rules


def make_events(count: int, services: int, seed: int = 11) -> list[dict[str, Any]]:
    """``count`` EventBridge envelopes of about 500 bytes from ``services`` services."""
    rng = random.Random(seed)
    events = []
    for n in range(count):
        detail: dict[str, Any] = {
            "orderId": f"ord-{rng.randrange(100)}-{n}",
            "status": rng.choice(STATUSES),
            "amount": round(rng.uniform(0, 120), 2),
            "channel": rng.choice(CHANNELS),
            "items": [{"sku": f"pz-{rng.randrange(30)}", "qty": rng.randrange(1, 4)}],
            "notes": "extra cheese, no olives",
        }
        if rng.random() < 0.6:
            detail["customer"] = {"name": "Ada Lovelace", "email": "ada@example.com"}
        events.append(
            {
                "version": "0",
                "id": f"6a7e8feb-b491-4cf7-a9f1-bf3703{n:06d}",
                "detail-type": rng.choice(DETAIL_TYPES),
                "source": f"com.pizzabus.service{rng.randrange(services)}",
                "account": "123456789012",
                "time": "2025-10-15T13:11:58Z",
                "region": "us-east-1",
                "resources": [
                    f"arn:aws:states:us-east-1:123456789012:stateMachine:pizza-{rng.randrange(4)}"
                ],
                "detail": detail,
            }
        )
    return events


def pizzabus_matcher(rules: list[tuple[str, str]]) -> Matcher:
    rule_set = RuleSet()
    for name, pattern in rules:
        rule_set.add(name, pattern)
    rule_set.matching({})  # build the index outside the timed loop
    return lambda event: len(rule_set.matching(event))


def _load_localstack() -> Any | None:
    """LocalStack's engine module, or None. Its package imports half of LocalStack on the way
    to one exception class, so when that chain fails the module file is loaded directly with
    that one class supplied; the engine's code is the same."""
    name = "localstack.services.events.event_rule_engine"
    try:
        return importlib.import_module(name)
    except ImportError:
        pass
    spec = importlib.util.find_spec("localstack")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = (
        Path(next(iter(spec.submodule_search_locations))) / "services/events/event_rule_engine.py"
    )
    if not path.exists():
        return None
    shim = types.ModuleType("localstack.aws.api.events")

    class InvalidEventPatternException(Exception):
        pass

    shim.InvalidEventPatternException = InvalidEventPatternException  # type: ignore[attr-defined]
    saved = sys.modules.get("localstack.aws.api.events")
    sys.modules["localstack.aws.api.events"] = shim
    try:
        module_spec = importlib.util.spec_from_file_location("_localstack_event_rule_engine", path)
        if module_spec is None or module_spec.loader is None:
            return None
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        return module
    finally:
        if saved is None:
            del sys.modules["localstack.aws.api.events"]
        else:
            sys.modules["localstack.aws.api.events"] = saved


def localstack_matcher(rules: list[tuple[str, str]]) -> Matcher | None:
    engine_module = _load_localstack()
    if engine_module is None:
        return None
    compiler = engine_module.EventPatternCompiler()
    compiled = [compiler.compile_event_pattern(pattern) for _, pattern in rules]
    engine = engine_module.EventRuleEngine()
    evaluate = engine.evaluate_pattern_on_event
    return lambda event: sum(1 for c in compiled if evaluate(c, event))


def moto_matcher(rules: list[tuple[str, str]]) -> Matcher | None:
    try:
        from moto.events.models import EventPattern, EventPatternParser
    except ImportError:
        return None
    patterns = [EventPattern(text, EventPatternParser(text).parse()) for _, text in rules]
    return lambda event: sum(1 for p in patterns if p.matches_event(event))


def events_per_second(match: Matcher, events: list[dict[str, Any]], budget: float) -> float:
    """Events per CPU-second over as many passes through ``events`` as fit in ``budget``.

    CPU time of this process, not wall time: the machine is shared, and other processes'
    load must not count against any engine (all of them run single-threaded here).
    """
    done = 0
    clock = time.process_time
    start = clock()
    deadline = start + budget
    while True:
        for event in events:
            match(event)
            done += 1
            if done % 64 == 0 and clock() > deadline:
                return done / (clock() - start)


def run(
    counts: Sequence[int], kinds: str, runs: int, budget: float, others: bool
) -> list[dict[str, Any]]:
    rows = []
    for count in counts:
        rules = make_rules(count, kinds)
        events = make_events(2000, max(1, (count + 3) // 4))
        engines: dict[str, Matcher | None] = {"pizzabus": pizzabus_matcher(rules)}
        if others:
            engines["localstack"] = localstack_matcher(rules)
            engines["moto"] = moto_matcher(rules)
        row: dict[str, Any] = {"workload": kinds, "rules": count}
        for name, match in engines.items():
            if match is None:
                row[name] = None
                continue
            share = budget if name == "pizzabus" else budget / 2
            rates = [events_per_second(match, events, share) for _ in range(runs)]
            row[name] = round(statistics.median(rates), 1)
        for name in ("localstack", "moto"):
            if row.get(name):
                row[f"x_{name}"] = round(row["pizzabus"] / row[name], 1)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


#: Operators on a client-supplied field, each against the input that is worst for it.
PATHOLOGICAL: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("wildcard *a*b*c*", {"wildcard": "*a*b*c*"}, "a" * 100_000),
    ("wildcard *ab*ab*x", {"wildcard": "*ab*ab*x"}, "ab" * 50_000),
    ("suffix equals-ignore-case", {"suffix": {"equals-ignore-case": "ßx"}}, "ß" * 100_000),
    ("anything-but wildcard", {"anything-but": {"wildcard": "*a*b*"}}, "a" * 100_000),
    ("prefix", {"prefix": "a" * 1000}, "a" * 100_000),
)


def pathological(runs: int) -> list[dict[str, Any]]:
    """Milliseconds to match one event whose field is 100,000 characters long (a backtracking
    wildcard took more than 40 s here): linear matchers take about as long as reading it."""
    rows = []
    for name, condition, text in PATHOLOGICAL:
        rules = RuleSet()
        rules.add("r", json.dumps({"detail": {"field": [condition]}}))
        event = {"detail": {"field": text}}
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            rules.matching(event)
            times.append(time.perf_counter() - start)
        row = {"case": name, "chars": len(text), "ms": round(statistics.median(times) * 1000, 3)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds, tiny sizes")
    parser.add_argument("--runs", type=int, default=5, help="runs per cell (median reported)")
    parser.add_argument("--no-others", action="store_true", help="skip LocalStack and moto")
    args = parser.parse_args(argv)
    if args.smoke:
        runs, budget = 1, 0.2
        mixed, exact, scale = [1, 10, 100], [100], [10, 1000]
    else:
        runs, budget = args.runs, 1.0
        mixed, exact, scale = [1, 10, 100, 300, 1000], [1000], [10, 10_000]
    results = {
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "mixed": run(mixed, "mixed", runs, budget, not args.no_others),
        "exact_prefix": run(exact, "exact-prefix", runs, budget, others=False),
        "scaling": run(scale, "mixed", runs, budget, others=False),
        "pathological": pathological(max(runs, 3)),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
