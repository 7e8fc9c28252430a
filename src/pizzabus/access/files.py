"""Private files: a server's data (orders, payloads, dead letters) is for its user only.

Data directories are made 0700 and data files 0600 before SQLite opens them (SQLite gives its
``-wal`` and ``-shm`` files the mode of the database file), whatever the umask.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) with mode 0700, or tighten it to 0700 if it is ours.

    A shared sticky directory (``/tmp``) is never changed: it is not a data directory.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    ours = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    if ours and not info.st_mode & stat.S_ISVTX and stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(stat.S_IMODE(info.st_mode) & 0o700)
    return path


def ensure_private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 if it is missing; tighten it (and its SQLite
    companions) to 0600 if it exists and is ours."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            info = candidate.stat()
        except FileNotFoundError:
            continue
        ours = not hasattr(os, "getuid") or info.st_uid == os.getuid()
        if ours and stat.S_IMODE(info.st_mode) & 0o077:
            candidate.chmod(0o600)
    return path
