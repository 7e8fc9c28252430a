"""Where a running server says it runs: one 0600 JSON record per server, keyed by port, in a
0700 per-user runtime directory.

The runtime directory is ``$PIZZABUS_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/pizzabus``, else
``~/.pizzabus/run`` (or, without a usable home, ``<tmp>/pizzabus-<uid>``). A record holds the
server's url, host, port, pid, admin token, data directory and start time; the server writes it
once it listens and removes it on a clean stop. A record whose pid is dead is stale: readers
ignore and delete it.

Client commands on the same machine call :func:`find_server` (or :func:`client_token`) to find
the server and its token with no flag. The directory is the only protection of the token, as for
Jupyter's runtime files: it is refused if another user owns it or others may enter it.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pizzabus.access.tokens import ADMIN_TOKEN_ENV
from pizzabus.errors import PizzabusError

#: Overrides where records are kept (tests and several isolated setups use their own).
RUNTIME_DIR_ENV = "PIZZABUS_RUNTIME_DIR"
#: The server URL clients use when none is given (read by the CLI, not here).
URL_ENV = "PIZZABUS_URL"

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "ip6-localhost"})
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})


class AmbiguousServerError(PizzabusError):
    """Several servers run on this machine and the command did not say which one."""

    code = "AmbiguousServer"
    status = 400


class RuntimeDirError(PizzabusError):
    """The runtime directory cannot be used safely."""

    code = "RuntimeDirectoryUnusable"


@dataclass(frozen=True)
class ServerRecord:
    """What a running server publishes about itself."""

    url: str
    host: str
    port: int
    pid: int
    admin_token: str
    data_dir: str | None
    started_at: float

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ServerRecord:
        raw = json.loads(text)
        return cls(
            url=str(raw["url"]),
            host=str(raw["host"]),
            port=int(raw["port"]),
            pid=int(raw["pid"]),
            admin_token=str(raw["admin_token"]),
            data_dir=None if raw.get("data_dir") is None else str(raw["data_dir"]),
            started_at=float(raw["started_at"]),
        )


def runtime_dir(environ: Mapping[str, str] | None = None, *, create: bool = True) -> Path:
    """The per-user directory of server records, created 0700 if ``create``."""
    env = os.environ if environ is None else environ
    if env.get(RUNTIME_DIR_ENV):
        directory = Path(env[RUNTIME_DIR_ENV])
    elif env.get("XDG_RUNTIME_DIR"):
        directory = Path(env["XDG_RUNTIME_DIR"]) / "pizzabus"
    else:
        home = Path(env.get("HOME") or Path.home())
        if home.is_dir() and os.access(home, os.W_OK):
            directory = home / ".pizzabus" / "run"
        else:
            directory = Path(tempfile.gettempdir()) / f"pizzabus-{_uid()}"
    if create:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if directory.exists():
        _check_private(directory)
    return directory


def _uid() -> int:
    return os.getuid() if hasattr(os, "getuid") else 0


def _check_private(directory: Path) -> None:
    info = directory.stat()
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise RuntimeDirError(
            f"{directory} belongs to another user (uid {info.st_uid}); set {RUNTIME_DIR_ENV} "
            "to a directory of your own"
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        # Ours, but too open (e.g. made by hand): tighten it rather than refuse.
        directory.chmod(0o700)


def _record_path(directory: Path, port: int) -> Path:
    return directory / f"server-{port}.json"


def write_server_record(record: ServerRecord, directory: Path | None = None) -> Path:
    """Publish ``record`` (atomically, 0600), replacing any earlier one for its port."""
    directory = directory or runtime_dir()
    path = _record_path(directory, record.port)
    fd, temporary = tempfile.mkstemp(prefix=f".server-{record.port}-", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(record.to_json())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def remove_server_record(port: int, pid: int | None = None, directory: Path | None = None) -> None:
    """Withdraw the record of ``port``; only if it is ``pid``'s, when ``pid`` is given (a server
    that lost its port to another must not delete the other's record)."""
    directory = directory or runtime_dir(create=False)
    path = _record_path(directory, port)
    if pid is not None:
        record = _read(path)
        if record is None or record.pid != pid:
            return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def live_servers(directory: Path | None = None) -> list[ServerRecord]:
    """Every server whose process is alive, by port; stale records are deleted."""
    directory = directory or runtime_dir(create=False)
    if not directory.is_dir():
        return []
    servers = []
    for path in sorted(directory.glob("server-*.json")):
        record = _read(path)
        if record is None:
            continue
        if _alive(record.pid):
            servers.append(record)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
    return sorted(servers, key=lambda r: r.port)


def find_server(url: str | None = None, *, directory: Path | None = None) -> ServerRecord | None:
    """The live server that ``url`` names (by port; the host must be a loopback name or the
    server's own bound host), or, with no ``url``, the only live server on this machine.

    Returns None when there is none. Raises :class:`AmbiguousServerError`, naming them, when no
    ``url`` is given and several servers run.
    """
    servers = live_servers(directory)
    if url is None:
        if len(servers) > 1:
            names = ", ".join(f"{s.url} (pid {s.pid})" for s in servers)
            raise AmbiguousServerError(
                f"{len(servers)} pizzabus servers run on this machine: {names}; say which "
                "one with --url (or PIZZABUS_URL)"
            )
        return servers[0] if servers else None
    parts = urlsplit(url if "://" in url else f"http://{url}")
    try:
        port = parts.port or (443 if parts.scheme in {"https", "wss"} else 80)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    for server in servers:
        if server.port != port:
            continue
        bound = server.host.strip("[]").lower()
        if host == bound or (
            host in _LOOPBACK_NAMES and (bound in _LOOPBACK_NAMES or bound in _WILDCARDS)
        ):
            return server
    return None


def client_token(
    url: str | None = None,
    given: str | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    directory: Path | None = None,
) -> str | None:
    """The token a client command sends: ``given`` (``--token``), else
    ``PIZZABUS_ADMIN_TOKEN``, else the record of the server at ``url`` (or the only one)."""
    if given:
        return given
    env = os.environ if environ is None else environ
    if env.get(ADMIN_TOKEN_ENV):
        return env[ADMIN_TOKEN_ENV]
    try:
        server = find_server(url, directory=directory)
    except RuntimeDirError:
        return None
    return server.admin_token if server else None


def _read(path: Path) -> ServerRecord | None:
    try:
        return ServerRecord.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        # A record being written by hand or by a foreign version: not ours to delete.
        return None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
