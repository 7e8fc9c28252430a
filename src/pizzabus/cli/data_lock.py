"""One server per data directory: an exclusive lock on ``<data dir>/serve.lock``.

Two servers on one directory would each resume the other's deliveries and interleave their
writes. ``fcntl.flock`` is released by the kernel when the holder exits, even on ``kill -9``,
so a crashed server never leaves a stale lock behind; the file only tells the next server who
holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import IO

import click

from pizzabus.access import ensure_private_dir, ensure_private_file

LOCK_FILE = "serve.lock"


class DataDirLock:
    """The held lock of one data directory; :meth:`release` (or process exit) frees it."""

    def __init__(self, path: Path, handle: IO[str]) -> None:
        self.path = path
        self._handle = handle

    def describe(self, url: str) -> None:
        """Record who holds the lock, for the message a second server prints."""
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(json.dumps({"pid": os.getpid(), "url": url}) + "\n")
        self._handle.flush()

    def release(self) -> None:
        self._handle.close()


def lock_data_dir(data_dir: Path) -> DataDirLock:
    """Take ``data_dir`` for this server, or fail saying which server has it.

    Raises :class:`OSError` when the directory cannot be made or written."""
    # Private as the rest of the data directory (0700, files 0600); an OSError says why not.
    ensure_private_dir(data_dir)
    path = ensure_private_file(data_dir / LOCK_FILE)
    handle = path.open("r+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = _holder(handle.read())
        handle.close()
        raise click.ClickException(
            f"the data directory {data_dir} is in use by another pizzabus server{holder}; "
            "stop that one, or give this one its own --data-dir (or --memory)"
        ) from None
    return DataDirLock(path, handle)


def _holder(text: str) -> str:
    try:
        record = json.loads(text)
        return f" (pid {int(record['pid'])}, {record['url']})"
    except (ValueError, KeyError, TypeError):
        return ""
