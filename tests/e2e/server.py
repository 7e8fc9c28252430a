"""A real ``pizzabus serve`` in a subprocess, on a free loopback port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from pizzabus.access import TOKEN_HEADER, find_server

ANNOUNCE = re.compile(r"pizzabus serving \S+ on (http://\S+)")
REPO = Path(__file__).resolve().parents[2]
#: This checkout's package: the server must run the code under test, not whatever pizzabus the
#: interpreter has installed (a wheel, or another worktree's editable install).
SRC = REPO / "src"


def server_env(**extra: str) -> dict[str, str]:
    """The environment of a server subprocess: this checkout's ``src`` first on ``sys.path``,
    then the repository root (test systems are named ``tests.e2e.…:ATTR``)."""
    inherited = os.environ.get("PYTHONPATH")
    path = os.pathsep.join(p for p in (str(SRC), str(REPO), inherited) if p)
    return dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=path, **extra)


@dataclass
class Server:
    """A running server: its URLs and its output so far."""

    process: subprocess.Popen[str]
    url: str
    output: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    @property
    def admin_token(self) -> str:
        """The server's admin token, from its record (as pizzabus commands find it)."""
        record = find_server(self.url)
        if record is None:
            raise RuntimeError(f"no server record for {self.url}")
        return record.admin_token

    @property
    def admin_headers(self) -> dict[str, str]:
        """The headers the admin API (``/_pizzabus/``) needs."""
        return {TOKEN_HEADER: self.admin_token}

    def stats(self) -> dict[str, object]:
        response = httpx.get(f"{self.url}/_pizzabus/stats", headers=self.admin_headers, timeout=5)
        response.raise_for_status()
        stats: dict[str, object] = response.json()
        return stats

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.reader is not None:
            self.reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def as_from_a_terminal() -> None:
    """In a child, before it runs: Ctrl+C (SIGINT) does what it does in a terminal.

    A shell ignores SIGINT in the commands it starts in the background (``make test &`` in a
    script), and the children inherit that: Python then leaves SIGINT ignored, and a server
    that uvicorn stopped on SIGINT finds nothing to raise afterwards (exit 0, no "pizzabus
    stopped."), or misses a SIGINT that came before uvicorn took it. The tests of Ctrl+C are
    about a terminal's, so their servers start with SIGINT as a terminal gives it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_server(
    args: Sequence[str] = ("--memory",),
    timeout: float = 30.0,
    *,
    cwd: Path = REPO,
    env: dict[str, str] | None = None,
    program: Sequence[str] = (sys.executable, "-m", "pizzabus"),
    preexec: Callable[[], None] = as_from_a_terminal,
) -> Server:
    """Start ``pizzabus serve --port 0 ARGS`` and wait for it to announce its URL.

    ``env`` replaces the environment (default: this one, with this checkout's src first on
    PYTHONPATH);
    ``program`` is how pizzabus is run (``python -m pizzabus``, or the installed script)."""
    if env is None:
        env = server_env()
    process = subprocess.Popen(
        [*program, "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(env, PYTHONUNBUFFERED="1"),
        cwd=cwd,
        preexec_fn=preexec,  # noqa: PLW1509 (no thread of this process forks meanwhile)
    )
    output: list[str] = []
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            match = ANNOUNCE.search(line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    ready.wait(timeout)
    if not found:
        process.kill()
        process.wait()
        reader.join(timeout=5)
        raise RuntimeError(f"pizzabus serve did not start in {timeout} s:\n{''.join(output)}")
    server = Server(process, found[0], output, reader)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # the URL is printed before uvicorn accepts
        try:
            httpx.get(f"{server.url}/_pizzabus/stats", timeout=1)
            return server
        except httpx.TransportError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"pizzabus serve never answered:\n{''.join(output)}")
