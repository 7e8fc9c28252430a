"""Give memory that Python freed back to the operating system (Linux/glibc only).

Why: every execution environment runs on its own thread, and glibc's malloc gives each thread
that contends for the heap its own arena (up to 8 per core). Memory freed after a backlog stays
in those arenas, so the server's RSS steps up with each backlog's high-water mark although no
Python object survives (the soak's tracemalloc diffs show none). Capping the arenas at 2 and
trimming the heap once a minute gives glibc's share back (after a burst of 300 orders, the free
heap glibc kept went from 14.4 to 5.9 MB); CPython's own 1 MiB arenas, freed only when empty,
are not affected (benchmarks/README.md, soak section). Elsewhere (macOS, musl, Windows) this
is a clear no-op: those allocators behave differently and have no such calls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Protocol

LOG = logging.getLogger(__name__)

M_ARENA_MAX = -8  # from glibc's malloc.h
ARENAS = 2
TRIM_EVERY_S = 60.0


class Libc(Protocol):
    """The two glibc calls used here (a fake in tests)."""

    def mallopt(self, param: int, value: int) -> int: ...

    def malloc_trim(self, pad: int) -> int: ...


def load_glibc() -> Libc | None:
    """glibc, or None where the C library is another one (then nothing is tuned)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt  # noqa: B018 - musl has no mallopt/malloc_trim: probe both
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


class NativeMemory:
    """Caps malloc's arenas (before threads start) and trims the heap on request."""

    def __init__(self, libc: Libc | None, timer: Callable[[], float] = time.perf_counter) -> None:
        self._libc = libc
        self._timer = timer
        self.last_trim_s = 0.0

    @property
    def active(self) -> bool:
        return self._libc is not None

    def cap_arenas(self) -> bool:
        """Call before any thread starts: arenas already made are kept."""
        if self._libc is None:
            return False
        return bool(self._libc.mallopt(M_ARENA_MAX, ARENAS))

    def trim(self) -> bool:
        """Return free heap pages to the OS; remembers how long it took (logged at debug)."""
        if self._libc is None:
            return False
        start = self._timer()
        released = bool(self._libc.malloc_trim(0))
        self.last_trim_s = self._timer() - start
        LOG.debug("malloc_trim took %.1f ms (released: %s)", self.last_trim_s * 1000, released)
        return released

    def start_trimming(self, every_s: float = TRIM_EVERY_S) -> threading.Event | None:
        """Trim every ``every_s`` on a daemon thread (not the event loop: a trim of a large
        heap can take milliseconds). Returns the event that stops it, or None if inactive."""
        if self._libc is None:
            return None
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(every_s):
                self.trim()

        threading.Thread(target=loop, name="pizzabus-malloc-trim", daemon=True).start()
        return stop


def tune_process_memory() -> NativeMemory:
    """The server's and worker's start-up call: cap arenas, then trim once a minute."""
    memory = NativeMemory(load_glibc())
    memory.cap_arenas()
    memory.start_trimming()
    return memory
