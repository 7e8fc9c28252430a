"""Idle WebSocket connections: the server's memory per open socket.

A fresh server (``pizzabus serve --memory``, and the transport baseline beside it) gets a few
warm-up connections; then client processes (several, so no one process needs 10,000 sockets,
all on 127.0.0.1) open ``/ws?order_id=…`` sockets in steps and hold them open without sending
anything. After each step the server's ``VmRSS`` (/proc/PID/status) is read; memory per socket
is the growth over the warm-up reading divided by the sockets open. Both processes raise their
open-file limit to the hard limit (``resource.setrlimit``).

    python -m benchmarks.bench_idle_sockets [--smoke] [--sockets 10000] [--clients 4]

A client process is also ``python -m benchmarks.bench_idle_sockets --client WS_URL N``: it
opens N sockets, prints ``open N``, and holds them until its standard input closes.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks.common import (
    REPO,
    Server,
    baseline_command,
    machine,
    pizzabus_command,
    pyplot,
    raise_fd_limit,
    results_dir,
    serving,
    write_json,
)

Progress = Callable[[str], None]
#: Opening handshakes in flight at once per client process.
OPENING = 64


async def _hold(ws_url: str, count: int, deadline: float) -> None:
    from websockets.asyncio.client import connect

    sockets: list[Any] = []
    gate = asyncio.Semaphore(OPENING)

    async def open_one() -> None:
        async with gate:
            socket = await connect(
                f"{ws_url}?order_id={uuid.uuid4()}",
                compression=None,
                ping_interval=None,
                open_timeout=30,
            )
            sockets.append(socket)

    async with asyncio.timeout(max(1.0, deadline - time.monotonic())):
        await asyncio.gather(*(open_one() for _ in range(count)))
    print(f"open {len(sockets)}", flush=True)
    # Hold them until told (stdin closes) or the deadline passes.
    loop = asyncio.get_running_loop()
    reader = loop.run_in_executor(None, sys.stdin.read)
    await asyncio.wait([reader], timeout=max(1.0, deadline - time.monotonic()))
    await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)


def client_main(ws_url: str, count: int, seconds: float) -> int:
    raise_fd_limit()
    asyncio.run(_hold(ws_url, count, time.monotonic() + seconds))
    return 0


def _settled_rss(server: Server, seconds: float = 1.0) -> int:
    """RSS once it stops moving (or after ``seconds``)."""
    last = server.rss_kib()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = server.rss_kib()
        if abs(now - last) < 64:
            return now
        last = now
    return last


def measure(
    server: Server, sockets: int, clients: int, steps: int, progress: Progress
) -> dict[str, Any]:
    """Open ``sockets`` idle sockets on ``server`` in ``steps`` steps; RSS after each."""
    warm = _open_clients(server, [min(50, sockets)], hold_seconds=30)
    _close_clients(warm)
    baseline = _settled_rss(server, 2.0)
    points = [{"sockets": 0, "rss_kib": baseline}]
    held: list[subprocess.Popen[str]] = []
    per_step = sockets // steps
    try:
        for step in range(steps):
            share = [
                per_step // clients + (1 if i < per_step % clients else 0) for i in range(clients)
            ]
            held += _open_clients(server, share, hold_seconds=300)
            open_now = per_step * (step + 1)
            rss = _settled_rss(server)
            points.append({"sockets": open_now, "rss_kib": rss})
            progress(f"{server.name}: {open_now} idle sockets, RSS {rss / 1024:.1f} MiB")
    finally:
        _close_clients(held)
    top = points[-1]
    per_socket = (top["rss_kib"] - baseline) / top["sockets"] if top["sockets"] else None
    return {
        "sockets": top["sockets"],
        "rss_before_kib": baseline,
        "rss_after_kib": top["rss_kib"],
        "kib_per_socket": round(per_socket, 2) if per_socket is not None else None,
        "points": points,
    }


def _open_clients(server: Server, counts: list[int], hold_seconds: float) -> list[Any]:
    processes = []
    for count in counts:
        if count <= 0:
            continue
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.bench_idle_sockets",
                    "--client",
                    server.ws_url,
                    str(count),
                    "--hold",
                    str(hold_seconds),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=REPO,
            )
        )
    for process in processes:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("open"):
            _close_clients(processes)
            raise RuntimeError(f"a client failed to open its sockets (exit {process.poll()})")
    return processes


def _close_clients(processes: list[Any]) -> None:
    for process in processes:
        if process.stdin is not None:
            process.stdin.close()
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def chart(results: dict[str, Any]) -> list[str]:
    plt = pyplot()
    if plt is None:
        return []
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, label in (("pizzabus", "pizzabus --memory"), ("transport", "transport baseline")):
        if name not in results:
            continue
        points = results[name]["points"]
        ax.plot(
            [p["sockets"] for p in points],
            [p["rss_kib"] / 1024 for p in points],
            "-o",
            label=f"{label} ({results[name]['kib_per_socket']} KiB/socket)",
        )
    ax.set_xlabel("idle WebSocket connections")
    ax.set_ylabel("server RSS, MiB")
    ax.set_title("Server memory with idle sockets")
    ax.legend()
    fig.tight_layout()
    path = results_dir(results["smoke"]) / "idle_sockets.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [str(path)]


def run(argv: Sequence[str] | None = None, progress: Progress = print) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="500 sockets")
    parser.add_argument("--sockets", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--no-baseline", action="store_true", help="pizzabus only")
    args = parser.parse_args(argv)
    if args.smoke:
        args.sockets, args.steps, args.clients = 500, 1, 2
    limit = raise_fd_limit()
    if limit < args.sockets + 200:
        raise SystemExit(f"open-file hard limit {limit} is below {args.sockets} sockets")
    results: dict[str, Any] = {"machine": machine(), "sockets": args.sockets, "smoke": args.smoke}
    # Memory per socket, not the rate of new ones: the connection rate limit is lifted.
    targets = [("pizzabus", pizzabus_command("--memory", "--ws-connections-per-second", "1e6"))]
    if not args.no_baseline:
        targets.append(("transport", baseline_command()))
    for name, command in targets:
        with serving(name, command) as server:
            results[name] = measure(server, args.sockets, args.clients, args.steps, progress)
    results["charts"] = chart(results)
    write_json("idle_sockets", results, args.smoke)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--client":
        hold = float(argv[argv.index("--hold") + 1]) if "--hold" in argv else 300.0
        return client_main(argv[1], int(argv[2]), hold)
    results = run(argv)
    for name in ("pizzabus", "transport"):
        if name in results:
            print(f"{name}: {results[name]['kib_per_socket']} KiB per idle socket")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
