"""A throwaway PostgreSQL server: a fresh cluster in a temporary directory, on a free loopback
port, with trust authentication, deleted when stopped.

The binaries come from the ``pgserver`` package (``pip install 'pizzabus[postgres]'``), which
ships PostgreSQL built for the wheel's platform; when it is missing, from the machine's own
installation (``pg_ctl`` on ``PATH``, or Debian's ``/usr/lib/postgresql/*/bin``). We run
``initdb`` and ``pg_ctl`` ourselves rather than ``pgserver.get_server()`` because that one
listens on a Unix socket only and hides restarts; tests need a TCP address that survives a
restart (to prove that clients reconnect) and an immediate stop (to prove nothing half-written
remains).

PostgreSQL refuses to run as root: as root, the cluster belongs to the ``postgres`` system user
when there is one, else to a ``pizzabus-pg`` user created for it (as ``pgserver`` does).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

from pizzabus.errors import PizzabusError

#: The database user of a throwaway cluster (trust authentication: no password).
USER = "postgres"
INSTALL = "pip install 'pizzabus[postgres]'"
_SERVICE_USER = "pizzabus-pg"
_START_SECONDS = 60

StopMode = Literal["smart", "fast", "immediate"]

#: Server parameters for a throwaway cluster (``pizzabus cluster`` without ``--tables``), whose
#: data dies with it anyway: no fsync, no full-page images, and commits answered before their
#: WAL is written (a crash of PostgreSQL may lose the last fraction of a second of them). A
#: commit then costs no disk wait. Never for a user's ``--tables``.
THROWAWAY_SETTINGS: Mapping[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


class DevServerError(PizzabusError):
    """A throwaway server could not be found, started or stopped."""


def find_binaries() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``: ``pgserver``'s first,
    else the machine's. Raises :class:`DevServerError` with the install command otherwise."""
    found = importlib.util.find_spec("pgserver")
    candidates: list[Path] = []
    if found is not None and found.origin is not None:
        candidates.append(Path(found.origin).parent / "pginstall" / "bin")
    on_path = shutil.which("pg_ctl")
    if on_path is not None:
        candidates.append(Path(on_path).resolve().parent)
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: _version_key(p.parent.name),
        reverse=True,
    )
    for directory in candidates:
        if all((directory / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return directory
    raise DevServerError(
        "no PostgreSQL server binaries found (initdb, pg_ctl, postgres): install them with "
        f"`{INSTALL}` (the pgserver package ships them), or your system's PostgreSQL server "
        "package (e.g. `apt-get install postgresql`)"
    )


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (the kernel's choice for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    """A throwaway cluster; :func:`start_postgres` makes one. ``dsn`` names its ``postgres``
    database; :meth:`stop` and :meth:`start` stop and start it on the same port (data kept),
    :meth:`close` stops it and deletes everything."""

    binaries: Path
    root: Path
    port: int
    host: str = "127.0.0.1"
    settings: Mapping[str, str] = field(default_factory=dict)
    _run_as: str | None = None
    _running: bool = False

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def dsn(self) -> str:
        return self.dsn_for("postgres")

    @property
    def running(self) -> bool:
        return self._running

    def dsn_for(self, database: str) -> str:
        """The address of one database of this server."""
        return f"postgresql://{USER}@{self.host}:{self.port}/{database}"

    def init(self) -> None:
        """Create the cluster (``initdb``), owned by the user that will run it."""
        if os.geteuid() == 0:
            self._run_as = _service_user()
            entry = pwd.getpwnam(self._run_as)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-instructions",
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = [f"-h {self.host}", f"-p {self.port}", f"-k {self.root}"]
        options += [f"-c {name}={value}" for name, value in self.settings.items()]
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            str(_START_SECONDS),
            "-o",
            " ".join(options),
            "start",
        )
        self._running = True

    def stop(self, mode: StopMode = "fast") -> None:
        """Stop the server: ``fast`` ends sessions cleanly, ``immediate`` as a crash would."""
        if not self._running:
            return
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")
        self._running = False

    def restart(self, mode: StopMode = "fast") -> None:
        """Stop and start again on the same port, with the same data."""
        self.stop(mode)
        self.start()

    def close(self) -> None:
        """Stop the server (if running) and delete its files."""
        try:
            self.stop("fast")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, program: str, *arguments: str) -> None:
        command = [str(self.binaries / program), *arguments]
        done = subprocess.run(
            command,
            user=self._run_as,
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
            timeout=_START_SECONDS + 30,
        )
        if done.returncode != 0:
            log = ""
            with contextlib.suppress(OSError):
                log = self.log_file.read_text()[-2000:]
            raise DevServerError(
                f"{program} failed (exit {done.returncode}) for the throwaway PostgreSQL in "
                f"{self.root}: {(done.stderr or done.stdout).strip()}"
                + (f"\nserver log:\n{log}" if log else "")
            )


def start_postgres(
    *, settings: Mapping[str, str] | None = None, port: int | None = None
) -> PostgresServer:
    """Create and start a throwaway PostgreSQL; answers it running (``.dsn`` to connect).

    ``settings`` are server parameters (:data:`THROWAWAY_SETTINGS` for a server whose data
    needs no durability). Stop it with ``close()`` or use it as a context manager.
    """
    binaries = find_binaries()
    root = Path(tempfile.mkdtemp(prefix="pizzabus-pg-"))
    root.chmod(0o755)  # the service user (as root: postgres) must reach its socket and data
    server = PostgresServer(binaries, root, port or free_port(), settings=dict(settings or {}))
    try:
        server.init()
        server.start()
    except BaseException:
        server.close()
        raise
    return server


def _service_user() -> str:
    for name in (USER, _SERVICE_USER):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _SERVICE_USER],
        check=True,
        capture_output=True,
    )
    return _SERVICE_USER
