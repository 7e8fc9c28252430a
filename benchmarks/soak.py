"""``python -m benchmarks.soak``: run the server for a long time at a fraction of its saturation,
and judge whether disk and memory stay bounded.

    python -m benchmarks.soak --minutes 30 --fraction 0.5 [--memory] [--tables DSN]

First it measures the server's saturation (closed loop, :mod:`benchmarks.loadgen`'s search),
then it starts a fresh server and offers ``fraction`` of that rate, open loop, for
``--minutes``. Every ``--every`` seconds it records orders/s, lifecycle p50/p99, the server's
RSS, the data directory's size, each write-ahead log's size, open file descriptors and the
server's asyncio tasks. The series goes to ``benchmarks/results/soak-<mode>.csv`` with one
chart beside it (``.png``), and a verdict against the bounds of issue 17 is printed (and kept
in ``soak-<mode>.json``):

- each WAL file at most 64 MB at every sample;
- the data directory at most 300 MB per 10 minutes of load (it holds a week of archive and a
  day of timeline, so it grows with the orders; this bounds the bytes per order);
- RSS drift at most 5 MB after the first minute (``--memory`` keeps a week of archive and a day
  of timeline in memory, so there the slope is reported and judged per order instead).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import math
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from rich.console import Console
from rich.live import Live
from rich.table import Table

from benchmarks.common import (
    Server,
    machine,
    pizzabus_command,
    raise_fd_limit,
    results_dir,
    run_loadgen,
    start_server,
)
from benchmarks.loadgen import ORDER_TIMEOUT, Browser, Tally
from benchmarks.memtrace import ENV as MEMTRACE_ENV
from benchmarks.memtrace import diff
from pizzabus.access import TOKEN_HEADER, generate_token

#: The admin token the soak's servers are started with (their stats need it).
ADMIN_TOKEN = generate_token()

MB = 1024 * 1024
WAL_BOUND_MB = 64.0
DATA_BOUND_MB_PER_10_MIN = 300.0
RSS_DRIFT_BOUND_MB = 5.0
#: Memory mode keeps the archive and timelines in memory: judge growth per order instead.
MEMORY_BYTES_PER_ORDER_BOUND = 8 * 1024


@dataclass
class Row:
    """One sample of the series."""

    t_s: float
    orders: int
    orders_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    failures: int
    rss_mb: float
    data_dir_mb: float
    tables_db_mb: float
    events_db_mb: float
    tables_wal_mb: float
    events_wal_mb: float
    open_fds: int
    tasks: int | None
    #: Warm execution environments of all functions (idle or busy).
    environments: int | None = None
    #: CPU the server and the load generator used since the last sample, in % of one core:
    #: when the server falls behind, these say whether it or the generator ran out of CPU.
    server_cpu_pct: float | None = None
    loadgen_cpu_pct: float | None = None
    #: Functions sent back from inline runs to threads so far, and those on threads now: a
    #: function on threads costs about a third more CPU an invocation.
    demotions: int | None = None
    on_threads: int | None = None


def _size_mb(path: Path) -> float:
    try:
        return path.stat().st_size / MB
    except FileNotFoundError:
        return 0.0


def _dir_mb(path: Path | None) -> float:
    if path is None or not path.exists():
        return 0.0
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / MB


def _open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def _cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of process ``pid`` (all its threads) so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # utime and stime are fields 14 and 15 of proc(5), counted from the state field (3).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)] * 1000, 2)


class Soak:
    """Offers load to one server and samples it."""

    def __init__(
        self,
        server: Server,
        data_dir: Path | None,
        rate: float,
        seconds: float,
        snapshots: Sequence[float] = (),
    ) -> None:
        """``snapshots``: seconds of load after which the server (run by
        :mod:`benchmarks.memtrace`) is asked for a tracemalloc snapshot."""
        self.server, self.data_dir = server, data_dir
        self.rate, self.seconds = rate, seconds
        self._snapshots = sorted(snapshots)
        self.tally = Tally()
        self.rows: list[Row] = []
        self._seen = 0
        self._failed = 0
        self._cpu = (time.perf_counter(), _cpu_seconds(server.pid), time.process_time())

    async def run(self, every: float, console: Console) -> None:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            httpx.AsyncClient(timeout=5) as admin,
        ):
            browser = Browser(self.server.http_url, self.server.ws_url, session, deflate=False)
            start = time.perf_counter()
            driver = asyncio.create_task(self._drive(browser, start))
            with Live(self._table(), console=console, refresh_per_second=2) as live:
                next_at = start + every
                while not driver.done():
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(
                            asyncio.shield(driver), max(0.0, next_at - time.perf_counter())
                        )
                    now = time.perf_counter()
                    if now >= next_at or driver.done():
                        self.rows.append(
                            await self._sample(admin, now - start, now - next_at + every)
                        )
                        next_at += every
                        live.update(self._table())
                        if self._snapshots and now - start >= self._snapshots[0]:
                            self._snapshots.pop(0)
                            os.kill(self.server.pid, signal.SIGUSR2)
            await driver

    async def _drive(self, browser: Browser, start: float) -> None:
        """Open loop: orders start on schedule whatever the server does (as loadgen's)."""
        tasks: set[asyncio.Task[None]] = set()
        limit = max(64, int(self.rate * ORDER_TIMEOUT))
        n = 0
        while True:
            due = start + n / self.rate
            if due - start >= self.seconds:
                break
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            n += 1
            if len(tasks) >= limit:
                self.tally.fail("skipped: server too far behind")
                continue
            task = asyncio.create_task(browser.order(self.tally))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=ORDER_TIMEOUT + 1)

    async def _sample(self, admin: httpx.AsyncClient, t: float, window: float) -> Row:
        fresh = self.tally.samples[self._seen :]
        self._seen += len(fresh)
        failed = sum(self.tally.failures.values())
        new_failures, self._failed = failed - self._failed, failed
        tasks: int | None = None
        environments: int | None = None
        demotions: int | None = None
        on_threads: int | None = None
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            response = await admin.get(
                f"{self.server.url}/_pizzabus/stats", headers={TOKEN_HEADER: ADMIN_TOKEN}
            )
            stats = response.json()
            tasks = int(stats["asyncio_tasks"])
            functions = stats["functions"].values()
            environments = sum(int(f.get("warm_environments", 0)) for f in functions)
            demotions = sum(int(f.get("demotions", 0)) for f in functions)
            on_threads = sum(
                1 for f in functions if f.get("thread_invocations") and not f["inline"]
            )
        lifecycles = [s.lifecycle for s in fresh]
        data = self.data_dir
        server_cpu_pct, loadgen_cpu_pct = self._cpu_percent()
        return Row(
            t_s=round(t, 1),
            orders=self._seen,
            orders_per_s=round(len(fresh) / window, 1) if window > 0 else 0.0,
            p50_ms=_percentile(lifecycles, 50),
            p99_ms=_percentile(lifecycles, 99),
            failures=new_failures,
            rss_mb=round(self.server.rss_kib() / 1024, 1),
            data_dir_mb=round(_dir_mb(data), 1),
            tables_db_mb=round(_size_mb(data / "tables.sqlite3"), 2) if data else 0.0,
            events_db_mb=round(_size_mb(data / "events.sqlite3"), 2) if data else 0.0,
            tables_wal_mb=round(_size_mb(data / "tables.sqlite3-wal"), 2) if data else 0.0,
            events_wal_mb=round(_size_mb(data / "events.sqlite3-wal"), 2) if data else 0.0,
            open_fds=_open_fds(self.server.pid),
            tasks=tasks,
            environments=environments,
            server_cpu_pct=server_cpu_pct,
            loadgen_cpu_pct=loadgen_cpu_pct,
            demotions=demotions,
            on_threads=on_threads,
        )

    def _cpu_percent(self) -> tuple[float | None, float | None]:
        """The server's and this process's CPU since the last call, in % of one core."""
        now, server, loadgen = (
            time.perf_counter(),
            _cpu_seconds(self.server.pid),
            time.process_time(),
        )
        then, server_then, loadgen_then = self._cpu
        self._cpu = (now, server, loadgen)
        wall = now - then
        if wall <= 0:
            return None, None
        server_pct = None
        if server is not None and server_then is not None:
            server_pct = round(100 * (server - server_then) / wall, 1)
        return server_pct, round(100 * (loadgen - loadgen_then) / wall, 1)

    def _table(self) -> Table:
        table = Table(title=f"soak: {self.rate:.0f} orders/s offered for {self.seconds:.0f} s")
        columns = (
            "t",
            "orders/s",
            "p50 ms",
            "p99 ms",
            "RSS MB",
            "data MB",
            "WAL MB",
            "fds",
            "CPU %",
        )
        for column in columns:
            table.add_column(column, justify="right")
        for row in self.rows[-8:]:
            table.add_row(
                f"{row.t_s:.0f}/{self.seconds:.0f}",
                f"{row.orders_per_s}",
                f"{row.p50_ms}",
                f"{row.p99_ms}",
                f"{row.rss_mb}",
                f"{row.data_dir_mb}",
                f"{max(row.tables_wal_mb, row.events_wal_mb)}",
                f"{row.open_fds}",
                f"{row.server_cpu_pct} / {row.loadgen_cpu_pct}",
            )
        return table


def verdict(rows: list[Row], minutes: float, memory: bool) -> dict[str, Any]:
    """Each bound: the measured figure, the bound, and whether it held."""
    settled = [r for r in rows if r.t_s >= 60] or rows
    base = settled[0]
    orders = rows[-1].orders - base.orders if rows else 0
    seconds = rows[-1].t_s - base.t_s if rows else 0.0
    slope = _slope([r.t_s for r in settled], [r.rss_mb for r in settled])
    checks: dict[str, Any] = {}
    if not memory:
        largest = max(max(r.tables_wal_mb, r.events_wal_mb) for r in rows)
        checks["wal_max_mb"] = _check(largest, WAL_BOUND_MB)
        checks["data_dir_max_mb"] = _check(
            max(r.data_dir_mb for r in rows), DATA_BOUND_MB_PER_10_MIN * max(1.0, minutes / 10)
        )
    drift = max(r.rss_mb for r in settled) - base.rss_mb
    if memory:
        per_order = drift * MB / orders if orders else 0.0
        checks["rss_bytes_per_order"] = _check(round(per_order), MEMORY_BYTES_PER_ORDER_BOUND)
    else:
        checks["rss_drift_after_minute_1_mb"] = _check(round(drift, 1), RSS_DRIFT_BOUND_MB)
    total_failures = sum(r.failures for r in rows)
    checks["failed_orders"] = _check(total_failures, 0)
    return {
        "passed": all(c["ok"] for c in checks.values()),
        "checks": checks,
        "rss_slope_mb_per_min": round(slope * 60, 3),
        "rss_mb_first_minute_end": base.rss_mb,
        "rss_mb_end": rows[-1].rss_mb,
        "orders_after_minute_1": orders,
        "seconds_after_minute_1": round(seconds, 1),
        "open_fds": [min(r.open_fds for r in settled), max(r.open_fds for r in settled)],
        "tasks": _range([r.tasks for r in settled]),
        "environments": _range([r.environments for r in settled]),
        "demotions": rows[-1].demotions,
        "orders": rows[-1].orders,
        "data_dir_bytes_per_order": _per_order(rows[-1].data_dir_mb, rows[-1].orders),
        "tables_bytes_per_order": _per_order(rows[-1].tables_db_mb, rows[-1].orders),
        "event_log_bytes_per_order": _per_order(rows[-1].events_db_mb, rows[-1].orders),
    }


def _range(values: list[int | None]) -> list[int | None]:
    known = [v for v in values if v is not None]
    return [min(known), max(known)] if known else [None, None]


def _per_order(mb: float, orders: int) -> int | None:
    return round(mb * MB / orders) if orders else None


def _check(value: float, bound: float) -> dict[str, Any]:
    return {"value": value, "bound": bound, "ok": value <= bound}


def _slope(xs: list[float], ys: list[float]) -> float:
    if len(xs) < 2:
        return 0.0
    return statistics.linear_regression(xs, ys).slope


def write_csv(path: Path, rows: list[Row]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)


def chart(path: Path, rows: list[Row], title: str) -> bool:
    """One PNG: load and latency, memory, disk, descriptors and tasks, against time."""
    from benchmarks.common import pyplot

    plt = pyplot()
    if plt is None:
        return False
    minutes = [r.t_s / 60 for r in rows]
    figure, axes = plt.subplots(2, 2, figsize=(13, 8), sharex=True)
    (load, memory), (disk, handles) = axes
    load.plot(minutes, [r.orders_per_s for r in rows], label="orders/s", color="tab:blue")
    load.set_ylabel("orders/s")
    latency = load.twinx()
    latency.plot(minutes, [r.p50_ms for r in rows], label="p50 ms", color="tab:green")
    latency.plot(minutes, [r.p99_ms for r in rows], label="p99 ms", color="tab:red")
    latency.set_ylabel("lifecycle ms")
    load.legend(loc="upper left")
    latency.legend(loc="upper right")
    load.set_title("load and latency")
    memory.plot(minutes, [r.rss_mb for r in rows], color="tab:purple")
    memory.set_ylabel("RSS MB")
    memory.set_title("server memory (RSS)")
    disk.plot(minutes, [r.data_dir_mb for r in rows], label="data dir")
    disk.plot(minutes, [r.tables_wal_mb for r in rows], label="tables WAL")
    disk.plot(minutes, [r.events_wal_mb for r in rows], label="event log WAL")
    disk.axhline(WAL_BOUND_MB, color="grey", linestyle="--", label="WAL bound (64 MB)")
    disk.set_ylabel("MB")
    disk.set_xlabel("minutes")
    disk.legend(loc="upper left")
    disk.set_title("disk")
    handles.plot(minutes, [r.open_fds for r in rows], label="open fds")
    handles.plot(minutes, [r.tasks if r.tasks is not None else 0 for r in rows], label="tasks")
    handles.plot(
        minutes,
        [r.environments if r.environments is not None else 0 for r in rows],
        label="warm environments",
    )
    handles.set_xlabel("minutes")
    handles.legend(loc="upper left")
    handles.set_title("descriptors, tasks, environments; CPU")
    cpu = handles.twinx()
    for name, values in (
        ("server CPU %", [r.server_cpu_pct for r in rows]),
        ("load generator CPU %", [r.loadgen_cpu_pct for r in rows]),
    ):
        cpu.plot(minutes, [v if v is not None else 0 for v in values], label=name, linestyle=":")
    cpu.set_ylabel("% of one core")
    cpu.legend(loc="upper right")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return True


def serve_args(
    args: argparse.Namespace, data_dir: Path | None, *, traced: bool = False
) -> list[str]:
    extra = ["--memory"] if args.memory else ["--data-dir", str(data_dir)]
    extra += ["--admin-token", ADMIN_TOKEN]
    if args.tables:
        extra += ["--tables", args.tables]
    command = pizzabus_command(*extra)
    if traced:  # the same command, run by the tracemalloc wrapper
        command[command.index("pizzabus")] = "benchmarks.memtrace"
    return command


def measure_saturation(args: argparse.Namespace, console: Console) -> float:
    with tempfile.TemporaryDirectory(prefix="pizzabus-soak-sat-") as scratch:
        server = start_server("saturation", serve_args(args, Path(scratch)))
        try:
            with console.status("measuring saturation (closed loop, concurrency search)…"):
                result = run_loadgen(
                    server, "--mode", "saturate", "--search", "--concurrency", "64",
                    "--duration", "5", "--start", "8",
                )  # fmt: skip
        finally:
            server.stop()
    return float(result["orders_per_s"])


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=30.0, help="minutes of load")
    parser.add_argument("--fraction", type=float, default=0.5, help="of the saturation rate")
    parser.add_argument("--rate", type=float, help="orders/s to offer (skips the saturation run)")
    parser.add_argument("--memory", action="store_true", help="serve --memory")
    parser.add_argument("--tables", metavar="DSN", help="serve --tables DSN (PostgreSQL tables)")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--out", type=Path, help="directory for the CSV, PNG and JSON")
    parser.add_argument(
        "--tracemalloc",
        type=float,
        metavar="MINUTE",
        help="diagnose: trace the server's allocations (slower), snapshot them at MINUTE and at "
        "the end, and write the sites that grew most between the two",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    console = Console(highlight=False)
    raise_fd_limit()
    mode = "memory" if args.memory else ("pg-tables" if args.tables else "durable")
    out = args.out or results_dir()
    out.mkdir(parents=True, exist_ok=True)
    saturation = None
    if args.rate is None:
        saturation = measure_saturation(args, console)
        rate = saturation * args.fraction
        console.print(f"saturation {saturation:.0f} orders/s: offering {rate:.0f} orders/s")
    else:
        rate = args.rate
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="pizzabus-soak-") as scratch:
        data_dir = None if args.memory else Path(scratch) / "data"
        traces = Path(scratch) / "tracemalloc"
        if args.tracemalloc is not None:
            os.environ[MEMTRACE_ENV] = str(traces)
        traced = args.tracemalloc is not None
        server = start_server(mode, serve_args(args, data_dir, traced=traced))
        try:
            soak = Soak(server, data_dir, rate, seconds, [args.tracemalloc * 60] if traced else [])
            runner: Any = asyncio.run
            with contextlib.suppress(ImportError):
                import uvloop

                runner = uvloop.run
            runner(soak.run(args.every, console))
            if traced:
                _report_growth(server, traces, out / f"soak-{mode}-tracemalloc.txt", console)
        finally:
            server.stop()
    rows = soak.rows
    if not rows:
        console.print("[red]no samples were taken[/]")
        return 1
    judged = verdict(rows, args.minutes, args.memory)
    stem = out / f"soak-{mode}"
    write_csv(stem.with_suffix(".csv"), rows)
    title = f"pizzabus soak, {mode}: {rate:.0f} orders/s for {args.minutes:g} min"
    charted = chart(stem.with_suffix(".png"), rows, title)
    summary = {
        "mode": mode,
        "minutes": args.minutes,
        "fraction": args.fraction,
        "saturation_orders_per_s": saturation,
        "offered_orders_per_s": round(rate, 1),
        "machine": machine(),
        "verdict": judged,
    }
    stem.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    _print_verdict(console, judged, stem, charted)
    return 0 if judged["passed"] else 1


def _report_growth(server: Server, folder: Path, path: Path, console: Console) -> None:
    """Snapshot the server once more, and write what grew since the first snapshot."""
    first, last = folder / "snapshot-1.tracemalloc", folder / "snapshot-2.tracemalloc"
    os.kill(server.pid, signal.SIGUSR2)
    deadline = time.monotonic() + 120  # a guard: a large heap takes seconds to snapshot
    while time.monotonic() < deadline and not (last.exists() and _settled(last)):
        time.sleep(0.5)
    if not first.exists() or not last.exists():
        console.print("[red]no tracemalloc snapshots were written[/]")
        return
    lines = diff(first, last)
    path.write_text("\n".join(lines) + "\n")
    console.print("allocation sites that grew most (tracemalloc):")
    for line in lines:
        console.print("  " + line, markup=False)


def _settled(path: Path) -> bool:
    size = path.stat().st_size
    time.sleep(0.5)
    return path.stat().st_size == size


def _print_verdict(console: Console, judged: dict[str, Any], stem: Path, charted: bool) -> None:
    for name, check in judged["checks"].items():
        mark = "[green]ok[/]" if check["ok"] else "[red]OVER[/]"
        console.print(f"  {mark}  {name}: {check['value']} (bound {check['bound']})")
    console.print(
        f"  RSS slope after minute 1: {judged['rss_slope_mb_per_min']} MB/min; "
        f"{judged['data_dir_bytes_per_order']} bytes on disk per order (tables "
        f"{judged['tables_bytes_per_order']}, event log {judged['event_log_bytes_per_order']}); "
        f"fds {judged['open_fds']}, tasks {judged['tasks']}, "
        f"warm environments {judged['environments']}"
    )
    console.print(
        f"[bold]{'PASS' if judged['passed'] else 'FAIL'}[/]: {stem}.csv"
        + (f", {stem}.png" if charted else " (no chart: install the bench extra)")
    )


if __name__ == "__main__":
    sys.exit(main())
