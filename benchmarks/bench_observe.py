"""What watching costs: the lifecycle load with invocation logs and traces on, beside the same
server without them, and the code from before they existed.

Three servers (``serve --memory``), each run in turn in every round so they share the machine's
mood: **before** (``--base``: a tree of the code before telemetry, e.g. ``git archive 66955ed
src | tar -x -C /tmp/base``; skipped when not given), **quiet** (this code with ``--quiet
--no-traces``: metrics only), and **watched** (this code as ``serve`` runs by default: logs,
traces and metrics). Each run is the load generator's closed loop at a fixed concurrency;
orders/s and the server's CPU per order are compared as medians over rounds.

    .venv/bin/python -m benchmarks.bench_observe --base /tmp/base/src --runs 5
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    machine,
    median,
    pizzabus_command,
    raise_fd_limit,
    run_loadgen,
    serving,
    write_json,
)


def _commands(base: Path | None) -> dict[str, list[str]]:
    commands = {
        "quiet": pizzabus_command("--memory", "--quiet", "--no-traces", "--no-reload"),
        "watched": pizzabus_command("--memory", "--no-reload"),
    }
    if base is not None:
        before = pizzabus_command("--memory")
        commands = {"before": ["env", f"PYTHONPATH={base}", *before], **commands}
    return commands


def _run(name: str, command: list[str], args: argparse.Namespace) -> dict[str, Any]:
    with serving(name, command) as server:
        result = run_loadgen(
            server,
            "--mode",
            "saturate",
            "--concurrency",
            str(args.concurrency),
            "--warmup",
            str(args.warmup),
            "--duration",
            str(args.duration),
        )
    started = result.get("started") or 1
    return {
        "orders_per_s": result["orders_per_s"],
        "cpu_us_per_order": round(result["server_cpu_s"] / started * 1e6, 1),
        "failed": result.get("failed", 0),
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--base", type=Path, help="src/ of the code before telemetry")
    p.add_argument("--runs", type=int, default=5, help="rounds (medians are reported)")
    p.add_argument("--duration", type=float, default=4.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--concurrency", type=int, default=64)
    args = p.parse_args(argv)
    raise_fd_limit()
    commands = _commands(args.base)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in commands}
    for round_number in range(args.runs):
        # Rotate who goes first, so no server always meets the machine's warmest moment.
        names = list(commands)
        names = names[round_number % len(names) :] + names[: round_number % len(names)]
        for name in names:
            runs[name].append(_run(name, commands[name], args))
            last = runs[name][-1]
            print(
                f"round {round_number + 1} {name:8} {last['orders_per_s']:8.1f} orders/s "
                f"{last['cpu_us_per_order']:8.1f} us/order",
                file=sys.stderr,
            )
    summary: dict[str, Any] = {}
    for name, results in runs.items():
        summary[name] = {
            "orders_per_s": median([r["orders_per_s"] for r in results]),
            "cpu_us_per_order": median([r["cpu_us_per_order"] for r in results]),
            "runs": results,
        }
    reference = "before" if "before" in summary else "quiet"
    for name in summary:
        summary[name]["throughput_ratio"] = round(
            (summary[name]["orders_per_s"] or 0) / (summary[reference]["orders_per_s"] or 1), 3
        )
    path = write_json(
        "observe", {"machine": machine(), "concurrency": args.concurrency, "systems": summary}
    )
    for name, cell in summary.items():
        print(
            f"{name:8} median {cell['orders_per_s']:8.1f} orders/s  "
            f"{cell['cpu_us_per_order']:8.1f} us/order  × {reference}: {cell['throughput_ratio']}"
        )
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
