"""The order load generator: browsers placing pizza orders, against any implementation.

Per order it does what the web client does: open ``WS_URL?order_id=ID``, send
``{"action": "sync"}``, ``POST HTTP_URL`` with the order, and wait for the four stage frames
(``make_pizza``, ``cook_pizza``, ``deliver_pizza``, ``delivered``), in that order; then it
closes the socket. An order counts as done when its fourth frame arrives.

Two modes, both bounded in count and in time, and both stopping by themselves:

- ``saturate`` (closed loop): ``C`` browsers each place orders back to back. With
  ``--search``, the concurrency doubles from ``--start`` up to ``C`` and stops when throughput
  stops growing; the best step is the saturation throughput.
- ``rate`` (open loop): orders start on a fixed schedule of ``R`` per second whatever the
  server does, so latency includes any queueing (no coordinated omission).

Latency is measured two ways: ``lifecycle`` from the start of the socket's opening handshake
to the fourth frame (what a browser waits), and ``pipeline`` from the POST to the fourth frame.

    python -m benchmarks.loadgen --http http://127.0.0.1:8000/ --ws ws://127.0.0.1:8000/ws \\
        --mode rate --rate 500 --duration 5

The result is one JSON object on stdout (``--out`` writes it to a file too). Progress goes to
stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import resource
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import websockets
from websockets.asyncio.client import connect

STAGES = ("make_pizza", "cook_pizza", "deliver_pizza", "delivered")
#: An order not delivered in this many seconds counts as failed (and its socket is dropped).
ORDER_TIMEOUT = 10.0


@dataclass
class Sample:
    """One finished order: when it started (loop clock) and how long its parts took."""

    start: float
    lifecycle: float
    pipeline: float


@dataclass
class Tally:
    """What a run collected: finished orders and failures by kind."""

    samples: list[Sample] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    started: int = 0

    def fail(self, kind: str) -> None:
        self.failures[kind] = self.failures.get(kind, 0) + 1


class Browser:
    """Places orders as the web client does."""

    def __init__(
        self, http_url: str, ws_url: str, session: aiohttp.ClientSession, deflate: bool
    ) -> None:
        self.http_url = http_url
        self.ws_url = ws_url
        self.session = session
        self.compression = "deflate" if deflate else None

    async def order(self, tally: Tally) -> None:
        order_id = str(uuid.uuid4())
        body = json.dumps(
            {"item": {"order_id": order_id, "eventtype": "make_pizza", "pizza": "margherita"}}
        ).encode()
        tally.started += 1
        start = time.perf_counter()
        try:
            async with asyncio.timeout(ORDER_TIMEOUT):
                async with connect(
                    f"{self.ws_url}?order_id={order_id}",
                    compression=self.compression,
                    max_queue=None,
                    ping_interval=None,
                    open_timeout=ORDER_TIMEOUT,
                    close_timeout=1,
                ) as socket:
                    await socket.send('{"action": "sync"}')
                    posted = time.perf_counter()
                    async with self.session.post(
                        self.http_url, data=body, headers={"Content-Type": "application/json"}
                    ) as response:
                        await response.read()
                        if response.status != 200:
                            tally.fail(f"http {response.status}")
                            return
                    for expected in STAGES:
                        frame = await socket.recv()
                        stage = json.loads(frame)["item"]["eventtype"]
                        if stage != expected:
                            tally.fail(f"stage {stage} where {expected} was due")
                            return
                    done = time.perf_counter()
        except TimeoutError:
            tally.fail("timeout")
            return
        except (OSError, websockets.WebSocketException, aiohttp.ClientError) as error:
            tally.fail(type(error).__name__)
            return
        tally.samples.append(Sample(start, done - start, done - posted))


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/p99/max in milliseconds (nearest-rank)."""
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000, 3)

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "max": round(ordered[-1] * 1000, 3)}


def summary(tally: Tally, window: tuple[float, float]) -> dict[str, Any]:
    """Throughput and latency of the orders that started inside ``window``."""
    begin, end = window
    kept = [s for s in tally.samples if begin <= s.start < end]
    seconds = end - begin
    return {
        "orders": len(kept),
        "seconds": round(seconds, 3),
        "orders_per_s": round(len(kept) / seconds, 1) if seconds > 0 else 0.0,
        "lifecycle_ms": percentiles([s.lifecycle for s in kept]),
        "pipeline_ms": percentiles([s.pipeline for s in kept]),
        "mean_lifecycle_ms": round(statistics.fmean(s.lifecycle for s in kept) * 1000, 3)
        if kept
        else None,
        "failed": sum(tally.failures.values()),
        "failures": dict(tally.failures),
        "started": tally.started,
    }


def progress(text: str) -> None:
    print(f"loadgen: {text}", file=sys.stderr, flush=True)


async def closed_loop(
    browser: Browser, concurrency: int, duration: float, warmup: float, max_orders: int
) -> dict[str, Any]:
    """``concurrency`` browsers ordering back to back for ``warmup + duration`` seconds."""
    tally = Tally()
    start = time.perf_counter()
    deadline = start + warmup + duration

    async def browse() -> None:
        while time.perf_counter() < deadline and tally.started < max_orders:
            await browser.order(tally)

    await asyncio.gather(*(browse() for _ in range(concurrency)))
    end = min(time.perf_counter(), deadline)
    result = summary(tally, (start + warmup, end))
    result["concurrency"] = concurrency
    return result


async def open_loop(
    browser: Browser, rate: float, duration: float, warmup: float, max_in_flight: int
) -> dict[str, Any]:
    """Orders started ``rate`` times a second, on schedule, for ``warmup + duration`` s."""
    tally = Tally()
    tasks: set[asyncio.Task[None]] = set()
    total = int(rate * (warmup + duration))
    start = time.perf_counter()
    skipped = 0
    for n in range(total):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(tasks) >= max_in_flight:
            skipped += 1  # the server is this far behind: the rate is not sustainable
            continue
        task = asyncio.create_task(browser.order(tally))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=ORDER_TIMEOUT + 1)
    result = summary(tally, (start + warmup, start + warmup + duration))
    # Throughput of an open loop is the offered rate when it keeps up; report what was done.
    result["offered_per_s"] = rate
    result["skipped"] = skipped
    return result


async def saturate(
    browser: Browser, args: argparse.Namespace
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The best closed-loop throughput, searching concurrency upwards when asked."""
    levels = [args.concurrency]
    if args.search:
        levels, c = [], args.start
        while c < args.concurrency:
            levels.append(c)
            c *= 2
        levels.append(args.concurrency)
    steps: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    for level in levels:
        step = await closed_loop(browser, level, args.duration, args.warmup, args.max_orders)
        progress(f"concurrency {level}: {step['orders_per_s']} orders/s")
        steps.append(step)
        if best is None or step["orders_per_s"] > best["orders_per_s"]:
            previous = best
            best = step
            if previous is not None and step["orders_per_s"] < previous["orders_per_s"] * 1.05:
                break  # less than 5% better: saturated
        else:
            break
    assert best is not None
    return best, steps


def raise_fd_limit() -> int:
    """Allow as many sockets as the hard limit lets this process have."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


async def run(args: argparse.Namespace) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        browser = Browser(args.http, args.ws, session, args.deflate)
        # One order first: the server's code paths and pools warm up, and a dead URL fails here.
        tally = Tally()
        await browser.order(tally)
        if not tally.samples:
            return {"error": f"the first order failed: {tally.failures}"}
        result: dict[str, Any]
        if args.mode == "saturate":
            best, steps = await saturate(browser, args)
            result = dict(best, steps=steps)
            result["started_all_steps"] = 1 + sum(step["started"] for step in steps)
        else:
            max_in_flight = max(64, int(args.rate * ORDER_TIMEOUT))
            result = await open_loop(browser, args.rate, args.duration, args.warmup, max_in_flight)
            result["started_all_steps"] = 1 + result["started"]
            progress(
                f"{args.rate}/s offered: {result['orders_per_s']} done/s, lifecycle p50 "
                f"{result['lifecycle_ms']['p50']} ms, p99 {result['lifecycle_ms']['p99']} ms"
            )
    result["mode"] = args.mode
    return result


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.loadgen", description=__doc__.splitlines()[0]
    )
    p.add_argument("--http", required=True, help="URL orders are POSTed to, e.g. http://h:p/")
    p.add_argument("--ws", required=True, help="WebSocket URL, e.g. ws://h:p/ws")
    p.add_argument("--mode", choices=("saturate", "rate"), default="saturate")
    p.add_argument("--rate", type=float, default=100.0, help="orders/s offered (rate mode)")
    p.add_argument("--duration", type=float, default=5.0, help="measured seconds per step")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds run before measuring")
    p.add_argument("--concurrency", type=int, default=64, help="browsers (saturate mode)")
    p.add_argument("--search", action="store_true", help="double concurrency up to the limit")
    p.add_argument("--start", type=int, default=8, help="first concurrency of --search")
    p.add_argument("--max-orders", type=int, default=1_000_000, help="stop after this many")
    p.add_argument(
        "--no-deflate",
        dest="deflate",
        action="store_false",
        help="do not offer permessage-deflate (browsers offer it)",
    )
    p.add_argument("--no-uvloop", action="store_true", help="use asyncio's own event loop")
    p.add_argument("--out", type=Path, help="also write the JSON result here")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    raise_fd_limit()
    runner: Any = asyncio.run
    if not args.no_uvloop:
        with contextlib.suppress(ImportError):
            import uvloop

            runner = uvloop.run
    cpu = time.process_time()
    result = runner(run(args))
    result["client_cpu_s"] = round(time.process_time() - cpu, 3)
    text = json.dumps(result)
    if args.out:
        args.out.write_text(text + "\n")
    print(text, flush=True)
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    raise SystemExit(main())
