"""What the benchmarks share: servers in subprocesses, the load generator, /proc readings."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
ANNOUNCE = re.compile(r"serving \S*\s*on (http://\S+)")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    """A server under test, in its own process, and its URLs."""

    name: str
    process: subprocess.Popen[str]
    url: str
    output: list[str] = field(default_factory=list)

    @property
    def http_url(self) -> str:
        return self.url + "/"

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/ws"

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time the server has used so far (all its threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss_kib(self) -> int:
        """Resident memory now (``VmRSS`` of /proc/PID/status), in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for {self.pid}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def raise_fd_limit() -> int:
    """As many open files as the hard limit allows (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def start_server(name: str, command: Sequence[str], timeout: float = 30.0) -> Server:
    """Start ``command`` (which prints ``… serving … on http://HOST:PORT``) and wait until it
    answers on that port."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=REPO,
    )
    output: list[str] = []
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if len(output) < 200:
                output.append(line)
            match = ANNOUNCE.search(line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    ready.wait(timeout)
    if not found:
        process.kill()
        process.wait()
        raise RuntimeError(f"{name} did not start in {timeout} s:\n{''.join(output)}")
    server = Server(name, process, found[0], output)
    _wait_listening(server, timeout)
    return server


def _wait_listening(server: Server, timeout: float) -> None:
    import socket

    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, int(port)), 1):
            return
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"{server.name} never accepted connections")


@contextlib.contextmanager
def serving(name: str, command: Sequence[str]) -> Iterator[Server]:
    server = start_server(name, command)
    try:
        yield server
    finally:
        server.stop()


def pizzabus_command(*args: str) -> list[str]:
    serve = [sys.executable, "-m", "pizzabus", "serve", "--port", "0", "--log-level", "warning"]
    return [*serve, *args]


def baseline_command() -> list[str]:
    return [sys.executable, "-m", "benchmarks.transport_baseline", "--port", "0"]


def run_loadgen(server: Server, *args: str, timeout: float = 300.0) -> dict[str, Any]:
    """Run the load generator (its own process) against ``server``; its JSON result, with the
    server's CPU seconds over the run added."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.loadgen",
        "--http",
        server.http_url,
        "--ws",
        server.ws_url,
        *args,
    ]
    cpu = server.cpu_seconds()
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, cwd=REPO, check=False
    )
    used = server.cpu_seconds() - cpu
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"loadgen failed against {server.name}:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["server_cpu_s"] = round(used, 3)
    return result


def median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def results_dir(smoke: bool = False) -> Path:
    """Where results go: smoke runs apart (and untracked), so they never replace real ones."""
    path = RESULTS / "smoke" if smoke else RESULTS
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json(name: str, data: dict[str, Any], smoke: bool = False) -> Path:
    path = results_dir(smoke) / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no display needed), or None if missing."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
