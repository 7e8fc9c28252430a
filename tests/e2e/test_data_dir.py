"""The data directory: a clear line when it cannot be used at start, files only its user can
read, and an admin API that keeps answering reads after a write failed (a full disk)."""

from __future__ import annotations

import os
import resource
import stat
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.e2e.orders import new_order
from tests.e2e.server import REPO, start_server

pytestmark = pytest.mark.e2e


def _serve(
    data_dir: Path, preexec: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pizzabus", "serve", "--port", "0", "--data-dir", str(data_dir)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        preexec_fn=preexec,
        # Coverage's own data file could not be written either, and would say so.
        env={k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS")}
        if preexec
        else None,
    )


def _one_clear_line(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs Linux's read-only /sys")
def test_an_unwritable_data_dir_is_one_line_saying_what_to_do() -> None:
    # /sys refuses new directories even to root, for whom permissions do not apply.
    _one_clear_line(_serve(Path("/sys/pizzabus-test")), "not writable", "--data-dir")


def test_a_data_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    _one_clear_line(_serve(a_file / "data"), "--data-dir", "--memory")


def _no_room_to_grow() -> None:
    # Any write that grows a file fails (EFBIG), as on a full disk; Python ignores SIGXFSZ.
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def test_a_full_disk_at_start_is_one_line(tmp_path: Path) -> None:
    _one_clear_line(_serve(tmp_path / "data", _no_room_to_grow), "disk", "full", "--data-dir")


def test_data_files_are_0600_in_a_0700_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    old_umask = os.umask(0o022)
    try:
        server = start_server(("--data-dir", str(data_dir)))
    finally:
        os.umask(old_umask)
    try:
        response = httpx.post(f"{server.url}/", json=new_order(), timeout=10)
        assert response.status_code == 200
        server.stats()
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        files = sorted(p.name for p in data_dir.iterdir())
        assert {"events.sqlite3", "events.sqlite3-wal", "tables.sqlite3"} <= set(files), files
        for path in data_dir.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    finally:
        server.stop()


def test_after_a_failed_write_the_admin_api_still_answers_reads(tmp_path: Path) -> None:
    server = start_server(("--data-dir", str(tmp_path / "data")))
    pid = server.process.pid
    _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    try:
        # From now on a write that grows a file fails (EFBIG), as on a full disk.
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, hard))
        with httpx.Client(timeout=10) as client:
            for _ in range(200):
                order = new_order()
                order["item"]["pizza"] = uuid.uuid4().hex * 50  # grow the log quickly
                client.post(f"{server.url}/", json=order)
                if "could not be written" in "".join(server.output):
                    break
            assert "could not be written" in "".join(server.output), "no write failed"
            headers = server.admin_headers
            for path in ("/stats", "/dlq", "/faults", "/replays"):
                response = client.get(f"{server.url}/_pizzabus{path}", headers=headers)
                assert response.status_code == 200, (path, response.text)
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))
        server.stop()
