"""Mutation scores per module, from the results `make mutate` left in ``mutants/``.

Run as ``python -m tests.mutation_scores [MUTANTS_DIR]`` after ``mutmut run``. A mutant counts as
killed when a test failed (or timed out) with it; "no tests" means no selected test ran the
mutated code, and counts against the score like a survivor. Mutants not checked yet (a run
stopped early, or limited to some names) are left out. The survivors are listed by name:
``mutmut show NAME`` prints each one's diff.

A package (``patterns/``) gets one row per file and a total row, so that a weak file cannot
hide behind strong ones.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

#: The module groups the score is reported for (issue 15); a group ending in "/" is a package.
GROUPS = {
    "patterns/": "pizzabus/patterns/",
    "tables/conditions.py": "pizzabus/tables/conditions.py",
    "tables/engine.py": "pizzabus/tables/engine.py",
    "bus/delivery.py": "pizzabus/bus/delivery.py",
    "sdk/grants.py": "pizzabus/sdk/grants.py",
    "pizza/functions/orders.py": "pizzabus/pizza/functions/orders.py",
}
KILLED = {"killed", "timeout", "caught by type check"}


def _row_name(source: str) -> str | None:
    """The report row of a mutated file: its group, or ``group/file`` inside a package."""
    for group, prefix in GROUPS.items():
        if prefix in source:
            if group.endswith("/"):
                return group + source.split(prefix, 1)[1].removesuffix(".meta")
            return group
    return None


def _line(name: str, count: Counter[str]) -> str:
    checked = sum(n for status, n in count.items() if status != "not checked")
    killed = sum(count[s] for s in KILLED)
    score = f"{100 * killed / checked:.1f}%" if checked else "-"
    return (
        f"| {name} | {checked} | {killed} | {count['survived']} | {count['no tests']} | {score} |"
    )


def main(root: Path = Path("mutants")) -> int:
    if not root.is_dir():
        print(f"No {root}/ folder: run `make mutate` first.", file=sys.stderr)
        return 1
    counts: dict[str, Counter[str]] = {}
    survivors: dict[str, list[str]] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        row = _row_name(meta.relative_to(root).as_posix())
        if row is None:
            continue
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            status = status_by_exit_code[code]
            counts.setdefault(row, Counter())[status] += 1
            if status not in KILLED and status != "not checked":
                survivors.setdefault(row, []).append(f"{name} ({status})")
    print("| module | mutants | killed | survived | no tests | score |")
    print("|---|---:|---:|---:|---:|---:|")
    for group in GROUPS:
        if group.endswith("/"):
            files = sorted(row for row in counts if row.startswith(group))
            for row in files:
                print(_line(row, counts[row]))
            total = sum((counts[row] for row in files), Counter[str]())
            print(_line(f"**{group} (all)**", total))
        else:
            print(_line(group, counts.get(group, Counter())))
    for row, names in survivors.items():
        for name in names:
            print(f"surviving in {row}: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*(Path(arg) for arg in sys.argv[1:2])))
