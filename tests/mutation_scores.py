"""Mutation scores per module, from the results `make mutate` left in ``mutants/``.

Run as ``python -m tests.mutation_scores`` after ``mutmut run``. A mutant counts as killed when
a test failed (or timed out) with it; "no tests" means no selected test ran the mutated code,
and counts against the score like a survivor. The survivors are listed by name: ``mutmut show
NAME`` prints each one's diff.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

#: The module groups the score is reported for (issue 15).
GROUPS = {
    "patterns/": "pizzabus/patterns/",
    "tables/conditions.py": "pizzabus/tables/conditions.py",
    "tables/engine.py": "pizzabus/tables/engine.py",
    "bus/delivery.py": "pizzabus/bus/delivery.py",
    "sdk/grants.py": "pizzabus/sdk/grants.py",
    "pizza/functions/orders.py": "pizzabus/pizza/functions/orders.py",
}
KILLED = {"killed", "timeout", "caught by type check"}


def main(root: Path = Path("mutants")) -> int:
    if not root.is_dir():
        print("No mutants/ folder: run `make mutate` first.", file=sys.stderr)
        return 1
    counts = {group: Counter[str]() for group in GROUPS}
    survivors: dict[str, list[str]] = {group: [] for group in GROUPS}
    for meta in sorted(root.rglob("*.py.meta")):
        source = meta.relative_to(root).as_posix()
        group = next((g for g, prefix in GROUPS.items() if prefix in source), None)
        if group is None:
            continue
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            status = status_by_exit_code[code]
            counts[group][status] += 1
            if status not in KILLED and status != "not checked":
                survivors[group].append(f"{name} ({status})")
    print("| module | mutants | killed | survived | no tests | score |")
    print("|---|---:|---:|---:|---:|---:|")
    for group, count in counts.items():
        checked = sum(n for status, n in count.items() if status != "not checked")
        killed = sum(count[s] for s in KILLED)
        score = f"{100 * killed / checked:.1f}%" if checked else "-"
        print(
            f"| {group} | {checked} | {killed} | {count['survived']} | {count['no tests']} "
            f"| {score} |"
        )
    for group, names in survivors.items():
        for name in names:
            print(f"surviving in {group}: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
