"""The distributed runtime: ``pizzabus cluster`` beside embedded ``pizzabus serve --memory``.

Three measurements, each a median over ``--runs`` rounds, with its baseline from the same round:

1. throughput and CPU: saturation orders/s of embedded and of a cluster (1 gateway, 2 worker
   processes), and CPU time per order summed over every process of each (the cluster's
   nats-server, gateway, supervisor and workers, and its database if it started one);
2. scaling: the stage handlers doing ~5 ms of pure-Python work (``slow_system.py``), orders/s
   with one worker process and with two;
3. latency: lifecycle p50/p99 of the cluster at a light open-loop load;
4. broker messages per order, by kind (:mod:`benchmarks.broker_messages`), at that light load.

    python -m benchmarks.bench_cluster [--smoke] [--runs 3] [--duration 4]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks import broker_messages
from benchmarks.common import (
    CLOCK_TICKS,
    REPO,
    Server,
    machine,
    median,
    pizzabus_command,
    raise_fd_limit,
    run_loadgen,
    serving,
    write_json,
)

GATEWAY = re.compile(r"^gateway\s+(http://\S+?)/?\s")
NATS = re.compile(r"^nats-server\s+(nats://\S+)")
TABLES = re.compile(r"^tables\s+postgresql://[^\s@]*@?[^\s:/]+:(\d+)/")
SLOW = "benchmarks.slow_system:SYSTEM"
Progress = Callable[[str], None]


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def postmaster_on(port: int) -> int | None:
    """The PostgreSQL server listening on ``port`` that a cluster started: ``pg_ctl`` detaches
    it, so it is not in the cluster's process tree (its command line names the port)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            command = (entry / "cmdline").read_bytes().split(b"\0")
            if (
                command
                and command[0].endswith(b"postgres")
                and f"-p {port}".encode() in (b" ".join(command))
            ):
                return int(entry.name)
    return None


def tree_cpu_by_role(root: int, *others: int) -> dict[str, float]:
    """User + system CPU of ``root`` (and ``others``) and every process below them (as they
    are now), by role: nats-server, gateway, worker, postgres, other."""
    tree = _children()
    roles: dict[str, float] = {}
    todo = [root, *others]
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            role = next(
                (
                    name
                    for key, name in (
                        ("nats-server", "nats"),
                        (" serve ", "gateway"),
                        (" worker ", "worker"),
                        ("postgres", "postgres"),
                    )
                    if key in command
                ),
                "other",
            )
            roles[role] = roles.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return roles


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of ``root`` and every process below it (as they are now)."""
    return sum(tree_cpu_by_role(root).values())


class TreeServer(Server):
    """A server whose CPU is that of its whole process tree, and of the PostgreSQL it
    started."""

    def cpu_by_role(self) -> dict[str, float]:
        postgres = self._postgres()
        return tree_cpu_by_role(self.pid, *([postgres] if postgres else []))

    def cpu_seconds(self) -> float:
        return sum(self.cpu_by_role().values())

    def _postgres(self) -> int | None:
        for line in self.output:
            match = TABLES.match(line)
            if match:
                return postmaster_on(int(match.group(1)))
        return None

    def nats_url(self) -> str:
        """The address of the cluster's own nats-server (from what it printed)."""
        for line in self.output:
            match = NATS.match(line)
            if match:
                return match.group(1)
        raise RuntimeError("the cluster printed no nats-server address")


@contextlib.contextmanager
def cluster(
    workers: int,
    system: str | None = None,
    *,
    extra: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """``pizzabus cluster --port 0 --workers N [EXTRA]``, until its URLs are printed;
    ``env``: added to the environment (``PYTHONPATH`` of other code, for a baseline)."""
    command = [sys.executable, "-m", "pizzabus", "cluster", "--port", "0"]
    command += ["--workers", str(workers), *extra]
    if system:
        command += ["--system", system]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})),
    )
    output: list[str] = []
    url: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if len(output) < 200:
                output.append(line)
            match = GATEWAY.match(line)
            if match and not url:
                url.append(match.group(1))
            if "Press Ctrl+C" in line:
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    ready.wait(120)
    server = TreeServer("cluster", process, url[0] if url else "", output)
    try:
        if not url:
            raise RuntimeError("pizzabus cluster did not start:\n" + "".join(output))
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def embedded(system: str | None = None) -> Iterator[Server]:
    args = ["--memory"] + (["--system", system] if system else [])
    with serving("embedded", pizzabus_command(*args)) as server:
        yield server


def _saturate(server: Server, args: argparse.Namespace, concurrency: int) -> dict[str, Any]:
    by_role = server.cpu_by_role if isinstance(server, TreeServer) else server_by_role(server)
    before = by_role()
    result = run_loadgen(
        server,
        *("--mode", "saturate", "--duration", str(args.duration), "--warmup", "2"),
        *("--concurrency", str(concurrency)),
    )
    after = by_role()
    started = result.get("started_all_steps") or result.get("started") or 0
    if started:
        result["cpu_us_per_order_by_role"] = {
            role: round((after[role] - before.get(role, 0.0)) / started * 1e6) for role in after
        }
    return result


def _messages(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    """Broker messages per order at the light rate (apart from the timed runs: the observer
    costs nats-server work)."""
    assert isinstance(server, TreeServer)

    def load() -> int:
        result = run_loadgen(
            server,
            *("--mode", "rate", "--rate", str(args.light_rate)),
            *("--duration", str(args.duration), "--warmup", "0"),
        )
        return int(result["started_all_steps"])

    return broker_messages.per_order(server.nats_url(), load)


def server_by_role(server: Server) -> Callable[[], dict[str, float]]:
    return lambda: tree_cpu_by_role(server.pid)


def _cpu_us(result: dict[str, Any]) -> float | None:
    started = result.get("started_all_steps") or result.get("started")
    return round(result["server_cpu_s"] / started * 1e6) if started else None


def run(argv: Sequence[str], progress: Progress = print) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_cluster")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--light-rate", type=float, default=10.0, help="orders/s for latency")
    args = parser.parse_args(argv)
    if args.smoke:
        args.runs, args.duration = 1, 2.0
    raise_fd_limit()
    rounds: list[dict[str, Any]] = []
    for index in range(args.runs):
        got: dict[str, Any] = {}
        with embedded() as server:
            got["embedded"] = _saturate(server, args, args.concurrency)
        with cluster(2) as server:
            got["cluster"] = _saturate(server, args, args.concurrency)
            got["latency"] = run_loadgen(
                server,
                *("--mode", "rate", "--rate", str(args.light_rate)),
                *("--duration", str(args.duration * 2), "--warmup", "1"),
            )
            got["messages"] = _messages(server, args)
        for workers in (1, 2):
            with cluster(workers, SLOW) as server:
                got[f"slow_{workers}"] = _saturate(server, args, args.concurrency)
        rounds.append(got)
        progress(
            f"round {index + 1}/{args.runs}: embedded {got['embedded']['orders_per_s']}/s "
            f"({_cpu_us(got['embedded'])} µs CPU/order), "
            f"cluster {got['cluster']['orders_per_s']}/s ({_cpu_us(got['cluster'])} µs), "
            "5 ms handlers: 1 worker "
            f"{got['slow_1']['orders_per_s']}/s, 2 workers {got['slow_2']['orders_per_s']}/s; "
            f"light load p50 {got['latency']['lifecycle_ms']['p50']} ms, "
            f"p99 {got['latency']['lifecycle_ms']['p99']} ms; "
            f"{got['messages'].get('per_order')} broker messages/order"
        )
    result = summarize(rounds)
    result["machine"] = machine()
    result["rounds"] = rounds
    write_json("cluster", result, args.smoke)
    return result


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    def of(name: str, pick: Callable[[dict[str, Any]], Any]) -> Any:
        return median([pick(r[name]) for r in rounds])

    scaling = median(
        [
            r["slow_2"]["orders_per_s"] / r["slow_1"]["orders_per_s"]
            for r in rounds
            if r["slow_1"]["orders_per_s"]
        ]
    )
    ratio = median(
        [
            r["cluster"]["orders_per_s"] / r["embedded"]["orders_per_s"]
            for r in rounds
            if r["embedded"]["orders_per_s"]
        ]
    )
    return {
        "embedded_orders_per_s": of("embedded", lambda r: r["orders_per_s"]),
        "embedded_cpu_us_per_order": of("embedded", _cpu_us),
        "cluster_orders_per_s": of("cluster", lambda r: r["orders_per_s"]),
        "cluster_cpu_us_per_order": of("cluster", _cpu_us),
        "cluster_cpu_us_per_order_by_role": {
            role: median(
                [r["cluster"].get("cpu_us_per_order_by_role", {}).get(role) for r in rounds]
            )
            for role in ("gateway", "worker", "nats", "postgres", "other")
        },
        "cluster_x_embedded": ratio,
        "slow_1_worker_orders_per_s": of("slow_1", lambda r: r["orders_per_s"]),
        "slow_2_workers_orders_per_s": of("slow_2", lambda r: r["orders_per_s"]),
        "scaling_2_over_1": scaling,
        "light_rate_per_s": of("latency", lambda r: r.get("offered_per_s")),
        "light_p50_ms": of("latency", lambda r: r["lifecycle_ms"]["p50"]),
        "light_p99_ms": of("latency", lambda r: r["lifecycle_ms"]["p99"]),
        "broker_messages_per_order": of("messages", lambda r: r.get("per_order")),
        "broker_messages_by_kind": {
            kind: median([r["messages"].get("by_kind", {}).get(kind) for r in rounds])
            for kind in sorted({k for r in rounds for k in r["messages"].get("by_kind", {})})
        },
    }


def main() -> None:
    started = time.monotonic()
    result = run(sys.argv[1:])
    summary = {k: v for k, v in result.items() if k not in {"rounds", "machine"}}
    for key, value in summary.items():
        print(f"{key:32} {value}")
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
