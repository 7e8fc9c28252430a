"""A distributed system as a user runs it: gateways (``pizzabus serve --nats``) and workers
(``pizzabus worker``) in subprocesses, on a private nats-server and the tables of a fresh
PostgreSQL database (the ``postgres_dsn`` fixtures)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.e2e.server import REPO, Server, start_server

#: What a worker process says once it consumes (after its label, ``[worker N] ``).
_READY = re.compile(r"worker process \d+ \(pid (\d+)\) ready")


@dataclass
class Workers:
    """A ``pizzabus worker --processes N`` supervisor and what it printed."""

    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    def ready_pids(self) -> list[int]:
        """The pids of the worker processes that said they are ready, in order."""
        return [int(match.group(1)) for line in list(self.output) if (match := _READY.search(line))]

    def wait_ready(self, count: int, timeout: float = 60.0) -> list[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.ready_pids()
            if len(pids) >= count:
                return pids
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"workers not ready in {timeout} s:\n{''.join(self.output)}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_workers(
    nats_url: str, tables: str, base_url: str, processes: int = 2, *extra: str
) -> Workers:
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "pizzabus", "worker", "--nats", nats_url, "--tables", tables),
            *("--processes", str(processes), "--base-url", base_url, "--log-level", "warning"),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=REPO,
    )
    workers = Workers(process)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            workers.output.append(line)

    threading.Thread(target=read, daemon=True).start()
    return workers


def start_gateway(nats_url: str, tables: str, *extra: str) -> Server:
    return start_server(("--memory", "--nats", nats_url, "--tables", tables, *extra))


@dataclass
class Cluster:
    gateways: list[Server]
    workers: Workers | None
    nats_url: str
    tables: str


@contextmanager
def running_cluster(
    nats_url: str,
    tables: str,
    gateways: int = 2,
    processes: int = 2,
    *extra: str,
    gateway_args: Sequence[str] = (),
) -> Iterator[Cluster]:
    """Gateways and a worker supervisor on ``tables`` (a ``postgresql://`` DSN); stopped
    afterwards whatever happens. ``extra`` goes to both, ``gateway_args`` to the gateways only
    (``serve`` options such as ``--faults`` or ``--max-in-flight``)."""
    started: list[Server] = []
    workers = None
    try:
        for _ in range(gateways):
            started.append(start_gateway(nats_url, tables, *extra, *gateway_args))
        if processes:
            workers = start_workers(nats_url, tables, started[0].url, processes, *extra)
            workers.wait_ready(processes)
        yield Cluster(started, workers, nats_url, tables)
    finally:
        if workers is not None:
            workers.stop()
        for gateway in started:
            gateway.stop()


def wait_until(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """Poll ``check()`` until it answers something truthy, and answer that; the timeout is a
    failure guard only."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout} s for {what}")
        time.sleep(0.05)
