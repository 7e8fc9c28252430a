"""What watching costs: invocation logs and journey traces, beside a server without them.

Two measurements, each alternating its variants within every round so they share the machine's
mood (on a shared machine, only ratios within a round mean much):

- ``--mode lifecycle`` (the lifecycle benchmark's load): three ``serve --memory`` servers,
  each saturated in turn by the load generator's closed loop at a fixed concurrency. **before**
  is the code before telemetry (``--base``: e.g. ``git archive 66955ed src | tar -x -C
  /tmp/base``; skipped if not given); **quiet** is this code with ``--quiet --no-traces``
  (metrics only); **watched** is ``serve`` as it runs by default (logs, traces and metrics).
  Reported: median orders/s and the server's CPU per order. ``--rate N`` offers N orders/s
  instead of saturating: the CPU per order then compares like with like.
- ``--mode inprocess``: the same system in this process, orders put straight on the bus (no
  HTTP, no sockets: the bus, the functions and the tables only, so the relative cost shows
  about twice as large as in the lifecycle). **none** has the hooks but no telemetry at all,
  **quiet** metrics only, **watched** logs, traces and metrics. Reported: CPU per order.
- ``--mode cluster``: ``pizzabus cluster`` (a gateway, ``--workers`` processes, nats-server
  and a throwaway PostgreSQL), at a fixed offered rate (``--rate``, default 40 orders/s) so
  every variant does the same work a second. **before** is the code before the cluster's
  telemetry (``--base``, e.g. ``git archive bdcf3e5 src | tar -x -C /tmp/base``: workers
  record nothing, gateways serve no traces); **quiet** is ``cluster --quiet --no-traces``
  (metrics, counts relayed to the gateway); **watched** is ``cluster`` as it runs by default
  (logs, traces, metrics, all relayed). Reported: CPU per order summed over every process of
  the cluster, and by role.

    .venv/bin/python -m benchmarks.bench_observe --mode inprocess --runs 8
    .venv/bin/python -m benchmarks.bench_observe --base /tmp/base/src --runs 5
    .venv/bin/python -m benchmarks.bench_observe --mode cluster --base /tmp/base/src --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
import uuid
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


def _lifecycle_run(name: str, command: list[str], args: argparse.Namespace) -> dict[str, Any]:
    load = ["--mode", "saturate", "--concurrency", str(args.concurrency)]
    if args.rate:
        # At a fixed offered rate, each server does the same orders a second, so its CPU per
        # order is not skewed by how much CPU the shared machine gave it (at saturation a
        # starved server also batches less).
        load = ["--mode", "rate", "--rate", str(args.rate)]
    with serving(name, command) as server:
        result = run_loadgen(
            server, *load, "--warmup", str(args.warmup), "--duration", str(args.duration)
        )
    started = result.get("started") or 1
    return {
        "orders_per_s": result["orders_per_s"],
        "cpu_us_per_order": round(result["server_cpu_s"] / started * 1e6, 1),
        "failed": result.get("failed", 0),
    }


def _cluster_run(name: str, args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.bench_cluster import cluster, tree_cpu_by_role

    extra = {"before": [], "quiet": ["--quiet", "--no-traces"], "watched": []}[name]
    if name != "before":
        extra = [*extra, "--no-reload"]  # what watching costs, not a file watcher
    env = {"PYTHONPATH": str(args.base)} if name == "before" else None
    with cluster(args.workers, extra=extra, env=env) as server:
        before = tree_cpu_by_role(server.pid)
        result = run_loadgen(
            server,
            *("--mode", "rate", "--rate", str(args.rate or 40)),
            *("--warmup", str(args.warmup), "--duration", str(args.duration)),
        )
        after = tree_cpu_by_role(server.pid)
    started = result.get("started_all_steps") or result.get("started") or 1
    return {
        "orders_per_s": result["orders_per_s"],
        "cpu_us_per_order": round(result["server_cpu_s"] / started * 1e6, 1),
        "cpu_us_per_order_by_role": {
            role: round((after[role] - before.get(role, 0.0)) / started * 1e6) for role in after
        },
        "failed": result.get("failed", 0),
    }


def _inprocess_run(variant: str, orders: int) -> dict[str, Any]:
    from pizzabus.embedded import EmbeddedSystem, Settings
    from pizzabus.pizza.system import SYSTEM
    from pizzabus.telemetry import NO_TELEMETRY

    watched = variant == "watched"
    system = EmbeddedSystem(
        SYSTEM, Settings(data_dir=None, invocation_logs=watched, tracing=watched)
    )
    if variant == "none":
        system.runtime.telemetry = NO_TELEMETRY
        system.deliverer.telemetry = NO_TELEMETRY
        system.router.telemetry = NO_TELEMETRY

    async def run() -> float:
        async with system.running():

            async def order() -> None:
                item = {"order_id": str(uuid.uuid4()), "eventtype": "make_pizza", "pizza": "x"}
                entry = {
                    "Source": "lab_http_api",
                    "DetailType": "eventtype",
                    "Detail": json.dumps({"item": item}),
                    "EventBusName": "lab_event_bus",
                }
                await system.router.put_events_async([entry])

            for _ in range(100):  # warm: environments loaded, functions inline
                await order()
            await system.deliverer.drain()
            gc.collect()
            started = time.process_time()
            for i in range(orders):
                await order()
                if i % 50 == 49:
                    await system.deliverer.drain()
            await system.deliverer.drain()
            return time.process_time() - started

    cpu = asyncio.run(run())
    return {"cpu_us_per_order": round(cpu / orders * 1e6, 1)}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--mode", choices=("lifecycle", "inprocess", "cluster"), default="lifecycle")
    p.add_argument("--workers", type=int, default=2, help="worker processes (cluster)")
    p.add_argument("--base", type=Path, help="src/ of the code before telemetry (lifecycle)")
    p.add_argument("--runs", type=int, default=5, help="rounds (medians are reported)")
    p.add_argument("--duration", type=float, default=4.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--concurrency", type=int, default=64, help="closed loop's browsers")
    p.add_argument("--rate", type=float, help="offer this many orders/s instead (open loop)")
    p.add_argument("--orders", type=int, default=600, help="orders per in-process run")
    args = p.parse_args(argv)
    commands: dict[str, list[str]] = {}
    if args.mode == "lifecycle":
        raise_fd_limit()
        commands = _commands(args.base)
        variants = list(commands)
    elif args.mode == "cluster":
        raise_fd_limit()
        variants = (["before"] if args.base else []) + ["quiet", "watched"]
    else:
        variants = ["none", "quiet", "watched"]
        # Invocation lines go nowhere: what is measured is making them, not the terminal.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for round_number in range(args.runs):
        # Rotate who goes first, so no variant always meets the machine's warmest moment.
        shift = round_number % len(variants)
        for name in variants[shift:] + variants[:shift]:
            if args.mode == "lifecycle":
                result = _lifecycle_run(name, commands[name], args)
            elif args.mode == "cluster":
                result = _cluster_run(name, args)
            else:
                result = _inprocess_run(name, args.orders)
            runs[name].append(result)
            print(f"round {round_number + 1} {name:8} {result}", file=sys.stderr)
    reference = variants[0]
    summary: dict[str, Any] = {}
    for name, results in runs.items():
        summary[name] = {
            key: median([r[key] for r in results])
            for key in ("orders_per_s", "cpu_us_per_order")
            if key in results[0]
        }
        summary[name]["runs"] = results
    for cell in summary.values():
        # Each round's own ratio (its variants ran minutes apart at most), then their median:
        # steadier than a ratio of medians when the shared machine's load drifts between rounds.
        cell["cpu_ratio_in_round"] = median(
            [
                round(r["cpu_us_per_order"] / (ref["cpu_us_per_order"] or 1), 3)
                for r, ref in zip(cell["runs"], summary[reference]["runs"], strict=True)
            ]
        )
        cell["cpu_ratio"] = round(
            (cell["cpu_us_per_order"] or 0) / (summary[reference]["cpu_us_per_order"] or 1), 3
        )
        if "orders_per_s" in cell:
            cell["throughput_ratio"] = round(
                (cell["orders_per_s"] or 0) / (summary[reference]["orders_per_s"] or 1), 3
            )
    path = write_json(
        f"observe_{args.mode}" + (f"_rate{args.rate:g}" if args.rate else ""),
        {
            "machine": machine(),
            "mode": args.mode,
            "variants": summary,
            "args": {k: str(v) for k, v in vars(args).items()},
        },
    )
    for name, cell in summary.items():
        shown = {k: v for k, v in cell.items() if k != "runs"}
        print(f"{name:8} {shown}  (ratios × {reference})", file=sys.stderr)
    print(f"written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
