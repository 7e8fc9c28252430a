"""``python -m benchmarks [--smoke] [--only NAME]``: every benchmark, then one summary table.

- ``lifecycle``: orders end to end (``--memory``, durable) beside the transport limit;
- ``idle``: server memory per idle WebSocket;
- ``patterns``: the event-pattern engine;
- ``cluster``: ``pizzabus cluster`` beside embedded (throughput, CPU per order over every
  process, scaling with 5 ms handlers on 1 vs 2 workers, light-load latency).

``--smoke`` runs each briefly (well under a minute in all), for CI logs: nothing is asserted.
Results are written under ``benchmarks/results/`` (JSON, and PNG charts when matplotlib is
installed); the summary goes to ``benchmarks/results/summary.json`` too.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks import bench_cluster, bench_idle_sockets, bench_lifecycle, bench_patterns
from benchmarks.common import machine, results_dir, write_json

NAMES = ("lifecycle", "idle", "patterns", "cluster")
#: The targets of the performance issue, beside what was measured.
TARGETS = {
    "memory_orders_per_s": 2000,
    "durable_orders_per_s": 1500,
    "x_transport": 0.5,
    "p50_ms_at_half": 2.0,
    "p99_ms_at_half": 10.0,
    "kib_per_idle_socket": 20.0,
    "cluster_scaling_2_over_1": 1.6,
    "cluster_light_p50_ms": 15.0,
    "cluster_light_p99_ms": 50.0,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="seconds, not minutes; for CI")
    parser.add_argument("--only", choices=NAMES, action="append", help="run only these")
    parser.add_argument("--runs", type=int, help="rounds of the lifecycle benchmark")
    parser.add_argument("--duration", type=float, help="seconds per lifecycle run")
    args = parser.parse_args(argv)
    chosen = args.only or list(NAMES)
    console = Console(highlight=False)

    def progress(text: str) -> None:
        console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {text}")

    smoke = ["--smoke"] if args.smoke else []
    summary: dict[str, Any] = {"machine": machine(), "smoke": args.smoke}
    started = time.monotonic()
    if "lifecycle" in chosen:
        options = list(smoke)
        if args.runs:
            options += ["--runs", str(args.runs)]
        if args.duration:
            options += ["--duration", str(args.duration)]
        with console.status("lifecycle: orders end to end…"):
            summary["lifecycle"] = bench_lifecycle.run(options, progress)
    if "idle" in chosen:
        with console.status("idle sockets…"):
            summary["idle"] = bench_idle_sockets.run(smoke, progress)
    if "patterns" in chosen:
        bench_patterns.RESULTS = results_dir(args.smoke) / "patterns.json"
        with console.status("pattern matching…"):
            bench_patterns.main([*smoke, "--no-others"] if args.smoke else [])
        summary["patterns"] = json.loads(bench_patterns.RESULTS.read_text())
    if "cluster" in chosen:
        with console.status("cluster: the distributed runtime…"):
            summary["cluster"] = {
                k: v
                for k, v in bench_cluster.run(smoke, progress).items()
                if k not in {"rounds", "machine"}
            }
    summary["seconds"] = round(time.monotonic() - started, 1)
    console.print(report(summary))
    path = write_json("summary", _compact(summary), args.smoke)
    console.print(f"results in {path.parent}/ ({summary['seconds']} s)")
    return 0


def report(summary: dict[str, Any]) -> Table:
    """One table: each figure, its target, and whether it is met."""
    table = Table(title="pizzabus benchmarks" + (" (smoke: not for comparison)" * summary["smoke"]))
    for column in ("measure", "value", "target", "met"):
        table.add_column(column, justify="left" if column == "measure" else "right")

    def add(measure: str, value: float | None, target: float | None, higher: bool) -> None:
        if value is None:
            table.add_row(measure, "—", "", "")
            return
        met = "" if target is None else ("yes" if (value >= target) == higher else "no")
        shown_target = "" if target is None else f"{'≥' if higher else '≤'} {target:,g}"
        table.add_row(measure, f"{value:,.2f}", shown_target, met)

    if "lifecycle" in summary:
        life = summary["lifecycle"]
        sat = life["saturation"]["median"]
        for system, key in (("memory", "memory"), ("durable", "durable")):
            if system not in sat:
                continue
            add(
                f"{system}: orders/s at saturation",
                sat[system]["orders_per_s"],
                TARGETS[f"{key}_orders_per_s"],
                True,
            )
            add(
                f"{system}: × transport limit (same run)",
                sat[system]["x_transport"],
                TARGETS["x_transport"],
                True,
            )
            add(
                f"{system}: server CPU µs per order",
                sat[system]["server_cpu_us_per_order"],
                None,
                False,
            )
            half = next((r for r in life["latency"].get(system, []) if r["fraction"] == 0.5), None)
            if half:
                add(
                    f"{system}: lifecycle p50 ms at half load",
                    half["lifecycle_ms"]["p50"],
                    TARGETS["p50_ms_at_half"],
                    False,
                )
                add(
                    f"{system}: lifecycle p99 ms at half load",
                    half["lifecycle_ms"]["p99"],
                    TARGETS["p99_ms_at_half"],
                    False,
                )
                add(
                    f"{system}: pipeline p50 ms (POST → 4th frame)",
                    half["pipeline_ms"]["p50"],
                    None,
                    False,
                )
        if "transport" in sat:
            add("transport limit: orders/s", sat["transport"]["orders_per_s"], None, True)
            add(
                "transport limit: server CPU µs per order",
                sat["transport"]["server_cpu_us_per_order"],
                None,
                False,
            )
            half = next(
                (r for r in life["latency"].get("transport", []) if r["fraction"] == 0.5), None
            )
            if half:
                add(
                    "transport limit: lifecycle p50 ms at half load",
                    half["lifecycle_ms"]["p50"],
                    None,
                    False,
                )
    if "idle" in summary:
        idle = summary["idle"]
        add(
            f"idle sockets: KiB per socket at {idle['sockets']:,}",
            idle["pizzabus"]["kib_per_socket"],
            TARGETS["kib_per_idle_socket"],
            False,
        )
        if "transport" in idle:
            add(
                "idle sockets: transport baseline KiB per socket",
                idle["transport"]["kib_per_socket"],
                None,
                False,
            )
    if "patterns" in summary:
        rows = summary["patterns"]["mixed"]
        widest = max(rows, key=lambda r: r["rules"])
        add(f"patterns: events/s, {widest['rules']} mixed rules", widest["pizzabus"], None, True)
    if "cluster" in summary:
        cluster = summary["cluster"]
        add("cluster: orders/s", cluster["cluster_orders_per_s"], None, True)
        add(
            "cluster: CPU µs per order, all processes",
            cluster["cluster_cpu_us_per_order"],
            None,
            False,
        )
        add("embedded (same run): orders/s", cluster["embedded_orders_per_s"], None, True)
        add(
            "embedded (same run): CPU µs per order",
            cluster["embedded_cpu_us_per_order"],
            None,
            False,
        )
        add(
            "cluster, 5 ms handlers: 2 workers ÷ 1 worker",
            cluster["scaling_2_over_1"],
            TARGETS["cluster_scaling_2_over_1"],
            True,
        )
        add(
            "cluster: light-load p50 ms",
            cluster["light_p50_ms"],
            TARGETS["cluster_light_p50_ms"],
            False,
        )
        add(
            "cluster: light-load p99 ms",
            cluster["light_p99_ms"],
            TARGETS["cluster_light_p99_ms"],
            False,
        )
    return table


def _compact(summary: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"machine": summary["machine"], "smoke": summary["smoke"]}
    if "lifecycle" in summary:
        out["lifecycle"] = {
            "saturation": summary["lifecycle"]["saturation"]["median"],
            "latency": summary["lifecycle"]["latency"],
        }
    if "idle" in summary:
        out["idle"] = {k: v for k, v in summary["idle"].items() if k != "machine"}
    if "patterns" in summary:
        out["patterns"] = summary["patterns"]
    if "cluster" in summary:
        out["cluster"] = summary["cluster"]
    out["targets"] = TARGETS
    return out


if __name__ == "__main__":
    raise SystemExit(main())
