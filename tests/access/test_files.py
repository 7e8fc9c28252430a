"""Data directories 0700 and data files 0600, whatever the umask; shared directories untouched."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pizzabus.access import ensure_private_dir, ensure_private_file


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_directory_and_file_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        directory = ensure_private_dir(tmp_path / "a" / "data")
        made = ensure_private_file(directory / "events.sqlite3")
    finally:
        os.umask(old)
    assert _mode(directory) == 0o700
    assert _mode(made) == 0o600
    assert made.read_bytes() == b""


def test_existing_open_ones_are_tightened_with_their_sqlite_companions(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    directory.mkdir()
    directory.chmod(0o755)
    for name in ("t.sqlite3", "t.sqlite3-wal", "t.sqlite3-shm"):
        (directory / name).write_bytes(b"kept")
        (directory / name).chmod(0o644)
    ensure_private_dir(directory)
    ensure_private_file(directory / "t.sqlite3")
    assert _mode(directory) == 0o700
    for path in directory.iterdir():
        assert _mode(path) == 0o600
        assert path.read_bytes() == b"kept"


def test_a_shared_sticky_directory_is_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    ensure_private_dir(shared)
    assert _mode(shared) == 0o1777
