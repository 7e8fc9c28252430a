"""Order lifecycle, end to end: ``pizzabus serve`` (``--memory``, durable, and durable with its
tables on PostgreSQL) beside the transport limit, driven by the same load generator.

The PostgreSQL system gets a fresh database per server on ``--postgres DSN`` (default
``$PIZZABUS_TEST_POSTGRES``, else a throwaway server started for the run).

For each round, each system gets a fresh server and the load generator (its own process):

1. saturation: closed loop; the first round searches the concurrency (doubling, until
   throughput stops growing), later rounds reuse the best concurrency found;
2. latency: open loop at 25%, 50% and 75% of that system's median saturation throughput.

Figures are medians over the rounds; each ratio compares systems measured in the same round.
The server's CPU time per order (from /proc) is reported too: it is steadier than wall-clock
throughput on a shared machine.

    python -m benchmarks.bench_lifecycle [--smoke] [--runs 3] [--duration 4]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    Server,
    baseline_command,
    machine,
    median,
    pizzabus_command,
    pyplot,
    raise_fd_limit,
    results_dir,
    run_loadgen,
    serving,
    write_json,
)

SYSTEMS = ("transport", "memory", "durable", "postgres")
LABELS = {
    "transport": "transport limit (wire only)",
    "memory": "pizzabus --memory",
    "durable": "pizzabus (durable)",
    "postgres": "pizzabus --tables postgresql://",
}
#: The PostgreSQL server the ``postgres`` system makes its databases on (set by ``run``).
_postgres: dict[str, str] = {}
FRACTIONS = (0.25, 0.5, 0.75)

Progress = Callable[[str], None]


def command_of(system: str, data_dir: Path) -> list[str]:
    if system == "transport":
        return baseline_command()
    if system == "memory":
        return pizzabus_command("--memory")
    if system == "postgres":
        return pizzabus_command("--data-dir", str(data_dir), "--tables", _postgres["database"])
    return pizzabus_command("--data-dir", str(data_dir))


@contextlib.contextmanager
def fresh_server(system: str) -> Iterator[Server]:
    """A new server for one run (the durable ones on an empty data directory and database)."""
    with contextlib.ExitStack() as stack:
        data = stack.enter_context(tempfile.TemporaryDirectory(prefix="pizzabus-bench-"))
        if system == "postgres":
            stack.enter_context(_fresh_database())
        yield stack.enter_context(serving(system, command_of(system, Path(data))))


@contextlib.contextmanager
def _fresh_database() -> Iterator[None]:
    import psycopg

    server = _postgres["server"]
    name = f"bench_lifecycle_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    _postgres["database"] = f"{server.rpartition('/')[0]}/{name}"
    try:
        yield
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def _postgres_server(args: argparse.Namespace) -> Iterator[None]:
    if "postgres" not in args.systems or args.postgres:
        _postgres["server"] = args.postgres or ""
        yield
        return
    from pizzabus.devservers.postgres import start_postgres

    with start_postgres() as server:
        _postgres["server"] = server.dsn
        yield


def _saturate(server: Server, concurrency: int, search: bool, args: argparse.Namespace) -> Any:
    options = ["--mode", "saturate", "--duration", str(args.duration)]
    options += ["--warmup", str(args.warmup), "--concurrency", str(concurrency)]
    if search:
        options += ["--search", "--start", str(args.start)]
    return run_loadgen(server, *options)


def _cpu_per_order_us(result: dict[str, Any]) -> float | None:
    """The server's CPU time over the whole load run (warm-up and search steps included),
    per order started in it."""
    started = result.get("started_all_steps") or result.get("started")
    if not started:
        return None
    return round(result["server_cpu_s"] / started * 1e6, 1)


def saturation(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    """Closed-loop throughput of every system, round by round."""
    best_concurrency: dict[str, int] = {}
    rounds: list[dict[str, Any]] = []
    for run in range(args.runs):
        row: dict[str, Any] = {}
        for system in args.systems:
            with fresh_server(system) as server:
                search = system not in best_concurrency and not args.smoke
                level = best_concurrency.get(system, args.concurrency)
                result = _saturate(server, level, search, args)
            if search:
                best_concurrency[system] = result["concurrency"]
            row[system] = {
                "orders_per_s": result["orders_per_s"],
                "concurrency": result["concurrency"],
                "failed": result["failed"],
                "server_cpu_us_per_order": _cpu_per_order_us(result),
                "client_cpu_s": result.get("client_cpu_s"),
                "lifecycle_ms": result["lifecycle_ms"],
            }
            progress(
                f"round {run + 1}/{args.runs} {system}: {result['orders_per_s']} orders/s "
                f"(concurrency {result['concurrency']})"
            )
        if "transport" in row:
            limit = row["transport"]["orders_per_s"]
            for system in ("memory", "durable", "postgres"):
                if system in row and limit:
                    row[system]["x_transport"] = round(row[system]["orders_per_s"] / limit, 3)
        if "postgres" in row and row.get("durable", {}).get("orders_per_s"):
            # Tables on PostgreSQL against the SQLite default, in the same round.
            ratio = row["postgres"]["orders_per_s"] / row["durable"]["orders_per_s"]
            row["postgres"]["x_durable"] = round(ratio, 3)
        rounds.append(row)
    summary = {}
    for system in args.systems:
        cells = [r[system] for r in rounds]
        summary[system] = {
            "orders_per_s": median([c["orders_per_s"] for c in cells]),
            "orders_per_s_runs": [c["orders_per_s"] for c in cells],
            "x_transport": median([c.get("x_transport") for c in cells]),
            "x_durable": median([c.get("x_durable") for c in cells]),
            "server_cpu_us_per_order": median([c["server_cpu_us_per_order"] for c in cells]),
            "concurrency": cells[-1]["concurrency"],
            "failed": sum(c["failed"] for c in cells),
        }
    return {"rounds": rounds, "median": summary}


def latency(
    args: argparse.Namespace, saturated: dict[str, Any], progress: Progress
) -> dict[str, Any]:
    """Open-loop latency at fixed fractions of each system's saturation throughput."""
    out: dict[str, Any] = {}
    fractions = (0.5,) if args.smoke else FRACTIONS
    for system in args.systems:
        peak = saturated[system]["orders_per_s"] or 0
        rows = []
        for fraction in fractions:
            rate = max(1.0, round(peak * fraction, 1))
            runs = []
            for _ in range(args.runs):
                with fresh_server(system) as server:
                    result = run_loadgen(
                        server,
                        "--mode",
                        "rate",
                        "--rate",
                        str(rate),
                        "--duration",
                        str(args.duration),
                        "--warmup",
                        str(args.warmup),
                    )
                runs.append(result)
            row = {
                "fraction": fraction,
                "offered_per_s": rate,
                "done_per_s": median([r["orders_per_s"] for r in runs]),
                "failed": sum(r["failed"] + r.get("skipped", 0) for r in runs),
                "server_cpu_us_per_order": median([_cpu_per_order_us(r) for r in runs]),
            }
            for key in ("lifecycle_ms", "pipeline_ms"):
                row[key] = {
                    p: median([r[key][p] for r in runs]) for p in ("p50", "p95", "p99", "max")
                }
            rows.append(row)
            progress(
                f"{system} at {rate}/s ({fraction:.0%}): lifecycle p50 "
                f"{row['lifecycle_ms']['p50']} ms, p99 {row['lifecycle_ms']['p99']} ms"
            )
        out[system] = rows
    return out


def charts(results: dict[str, Any]) -> list[str]:
    plt = pyplot()
    if plt is None:
        return []
    where = results_dir(results["settings"]["smoke"])
    made = []
    summary = results["saturation"]["median"]
    systems = [s for s in SYSTEMS if s in summary]
    fig, ax = plt.subplots(figsize=(7, 4))
    values = [summary[s]["orders_per_s"] or 0 for s in systems]
    runs = [summary[s]["orders_per_s_runs"] for s in systems]
    low = [v - min(r) for v, r in zip(values, runs, strict=True)]
    high = [max(r) - v for v, r in zip(values, runs, strict=True)]
    ax.bar([LABELS[s] for s in systems], values, yerr=[low, high], capsize=6, color="#c0504d")
    for i, v in enumerate(values):
        ax.text(i, v, f"{v:,.0f}", ha="center", va="bottom")
    ax.set_ylabel("orders/s (median; bars: min–max of runs)")
    ax.set_title("Order lifecycle at saturation (closed loop)")
    fig.tight_layout()
    path = where / "lifecycle_throughput.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    made.append(str(path))

    fig, ax = plt.subplots(figsize=(7, 4))
    for system, rows in results["latency"].items():
        rates = [r["offered_per_s"] for r in rows]
        for key, style in (("p50", "-o"), ("p99", "--x")):
            ax.plot(
                rates,
                [r["lifecycle_ms"][key] for r in rows],
                style,
                label=f"{LABELS[system]} {key}",
            )
    ax.set_xlabel("offered orders/s (open loop)")
    ax.set_ylabel("lifecycle latency, ms")
    ax.set_yscale("log")
    ax.set_title("Order lifecycle latency (connect → 4th frame)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = where / "lifecycle_latency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    made.append(str(path))
    return made


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="one short round (seconds)")
    p.add_argument("--runs", type=int, default=3, help="rounds (medians are reported)")
    p.add_argument("--duration", type=float, default=4.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    p.add_argument("--concurrency", type=int, default=128, help="highest concurrency tried")
    p.add_argument("--start", type=int, default=16, help="first concurrency of the search")
    p.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    p.add_argument(
        "--postgres",
        metavar="DSN",
        default=os.environ.get("PIZZABUS_TEST_POSTGRES"),
        help="the PostgreSQL server for the postgres system's databases (default "
        "$PIZZABUS_TEST_POSTGRES, else a throwaway server)",
    )
    return p


def run(argv: Sequence[str] | None = None, progress: Progress = print) -> dict[str, Any]:
    args = parser().parse_args(argv)
    if args.smoke:
        args.runs, args.duration, args.warmup = 1, min(args.duration, 1.5), 0.5
        args.concurrency = min(args.concurrency, 16)
    raise_fd_limit()
    results: dict[str, Any] = {
        "machine": machine(),
        "settings": {
            "runs": args.runs,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "smoke": args.smoke,
        },
    }
    with _postgres_server(args):
        results["saturation"] = saturation(args, progress)
        results["latency"] = latency(args, results["saturation"]["median"], progress)

    results["charts"] = charts(results)
    write_json("lifecycle", results, args.smoke)
    return results


def table(results: dict[str, Any]) -> list[list[str]]:
    """Rows of the summary table: one per system."""
    rows = []
    summary = results["saturation"]["median"]
    for system in SYSTEMS:
        if system not in summary:
            continue
        cell = summary[system]
        half = next((r for r in results["latency"].get(system, []) if r["fraction"] == 0.5), None)
        rows.append(
            [
                LABELS[system],
                _fmt(cell["orders_per_s"], "{:,.0f}"),
                _fmt(cell["x_transport"], "{:.2f}") if system != "transport" else "1",
                _fmt(cell["server_cpu_us_per_order"], "{:,.0f}"),
                _fmt(half and half["lifecycle_ms"]["p50"], "{:.1f}"),
                _fmt(half and half["lifecycle_ms"]["p99"], "{:.1f}"),
            ]
        )
    return rows


def _fmt(value: Any, spec: str) -> str:
    return "—" if value is None else spec.format(value)


def main(argv: Sequence[str] | None = None) -> int:
    results = run(argv)
    for row in table(results):
        print(" | ".join(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
