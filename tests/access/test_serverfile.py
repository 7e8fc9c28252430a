"""Server records: 0600 files in a 0700 per-user directory, found by port or as the only one."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pizzabus.access import (
    ADMIN_TOKEN_ENV,
    RUNTIME_DIR_ENV,
    AmbiguousServerError,
    ServerRecord,
    client_token,
    find_server,
    live_servers,
    remove_server_record,
    runtime_dir,
    write_server_record,
)


def _record(port: int, pid: int | None = None, host: str = "127.0.0.1") -> ServerRecord:
    return ServerRecord(
        url=f"http://{host}:{port}",
        host=host,
        port=port,
        pid=os.getpid() if pid is None else pid,
        admin_token=f"token-for-port-{port}",
        data_dir="/data",
        started_at=1.0,
    )


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return runtime_dir({RUNTIME_DIR_ENV: str(tmp_path / "run")})


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_runtime_directory_is_private_and_chosen_from_the_environment(tmp_path: Path) -> None:
    explicit = runtime_dir({RUNTIME_DIR_ENV: str(tmp_path / "a")})
    assert explicit == tmp_path / "a"
    assert stat.S_IMODE(explicit.stat().st_mode) == 0o700
    assert runtime_dir({"XDG_RUNTIME_DIR": str(tmp_path)}) == tmp_path / "pizzabus"
    assert runtime_dir({"HOME": str(tmp_path)}) == tmp_path / ".pizzabus" / "run"


def test_a_runtime_directory_left_open_is_tightened(tmp_path: Path) -> None:
    (tmp_path / "open").mkdir(mode=0o755)
    (tmp_path / "open").chmod(0o755)
    directory = runtime_dir({RUNTIME_DIR_ENV: str(tmp_path / "open")})
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_a_record_is_written_0600_and_read_back(directory: Path) -> None:
    path = write_server_record(_record(8123), directory)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert live_servers(directory) == [_record(8123)]
    assert [p.name for p in directory.iterdir()] == ["server-8123.json"]


def test_find_server_by_url_matches_the_port_and_a_loopback_host(directory: Path) -> None:
    write_server_record(_record(8123), directory)
    write_server_record(_record(8124, host="0.0.0.0"), directory)
    assert find_server("http://127.0.0.1:8123", directory=directory) == _record(8123)
    assert find_server("http://localhost:8123/x", directory=directory) == _record(8123)
    assert find_server("localhost:8124", directory=directory) == _record(8124, host="0.0.0.0")
    assert find_server("http://127.0.0.1:9999", directory=directory) is None
    # Another machine on the same port must never get this machine's token.
    assert find_server("http://example.com:8123", directory=directory) is None
    assert find_server("http://127.0.0.1:notaport", directory=directory) is None


def test_find_server_without_url_returns_the_only_one_or_names_them_all(directory: Path) -> None:
    assert find_server(directory=directory) is None
    write_server_record(_record(8123), directory)
    assert find_server(directory=directory) == _record(8123)
    write_server_record(_record(8124), directory)
    with pytest.raises(AmbiguousServerError, match=r"8123.*8124.*--url"):
        find_server(directory=directory)


def test_a_stale_record_is_ignored_and_deleted(directory: Path) -> None:
    write_server_record(_record(8123, pid=_dead_pid()), directory)
    (directory / "server-1.json").write_text("not json")
    assert find_server(directory=directory) is None
    assert not (directory / "server-8123.json").exists()
    assert (directory / "server-1.json").exists()


def test_a_record_is_removed_only_by_its_own_server(directory: Path) -> None:
    write_server_record(_record(8123), directory)
    remove_server_record(8123, pid=os.getpid() + 1, directory=directory)
    assert live_servers(directory)
    remove_server_record(8123, pid=os.getpid(), directory=directory)
    assert not live_servers(directory)
    remove_server_record(8123, directory=directory)


def test_client_token_prefers_the_flag_then_the_environment_then_the_record(
    directory: Path,
) -> None:
    write_server_record(_record(8123), directory)
    url = "http://127.0.0.1:8123"
    assert client_token(url, "flag", {ADMIN_TOKEN_ENV: "env"}, directory=directory) == "flag"
    assert client_token(url, None, {ADMIN_TOKEN_ENV: "env"}, directory=directory) == "env"
    assert client_token(url, None, {}, directory=directory) == "token-for-port-8123"
    assert client_token("http://127.0.0.1:1", None, {}, directory=directory) is None
