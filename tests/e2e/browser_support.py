"""What the browser tests need: a real ``pizzabus serve`` and Debian's headless Chromium."""

from __future__ import annotations

import importlib.util
import queue
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest
from playwright.sync_api import Browser, Playwright

from tests.e2e.server import server_env

CHROMIUM = shutil.which("chromium")

requires_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed: apt-get install -y chromium"
)

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

ANNOUNCEMENT = "pizzabus serving "
START_TIMEOUT_S = 20.0


def launch_chromium(playwright: Playwright) -> Browser:
    """The system's Chromium, driven by Playwright (never a downloaded browser)."""
    assert CHROMIUM is not None
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@dataclass
class RunningServer:
    """``pizzabus serve --memory`` in a subprocess, and everything it printed."""

    process: subprocess.Popen[str]
    url: str
    output: list[str] = field(default_factory=list)

    def stop(self) -> None:
        """Terminate the server and wait for it, killing it if it will not go."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _command() -> list[str]:
    if importlib.util.find_spec("pizzabus.__main__") is not None:
        return [sys.executable, "-m", "pizzabus"]
    return [sys.executable, "-c", "from pizzabus.cli.main import main; main()"]


def start_server() -> RunningServer:
    """Start a server on a free port; its URL is read from the line it prints at start."""
    process = subprocess.Popen(
        [*_command(), "serve", "--memory", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**server_env(), "NO_COLOR": "1", "TERM": "dumb"},
    )
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def pump() -> None:  # keeps draining, so a chatty server never blocks on a full pipe
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    server = RunningServer(process, _await_url(lines, output, process), output)
    _await_answer(server)
    return server


def _await_url(
    lines: queue.Queue[str | None], output: list[str], process: subprocess.Popen[str]
) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:  # the server exited
            break
        if ANNOUNCEMENT in line and " on http://" in line:
            return line.rsplit(" on ", 1)[1].strip()
    process.kill()
    process.wait()
    shown = "".join(output) or "(nothing)"
    raise RuntimeError(
        f"pizzabus serve did not announce its URL within {START_TIMEOUT_S:.0f} s "
        f"(exit code {process.returncode}). It printed:\n{shown}"
    )


def _await_answer(server: RunningServer) -> None:
    """The URL is printed just before uvicorn accepts connections: wait until it does."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{server.url}/", timeout=1).raise_for_status()
            return
        except httpx.TransportError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"pizzabus serve never answered at {server.url}:\n{''.join(server.output)}")
