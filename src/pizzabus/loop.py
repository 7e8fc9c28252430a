"""Running work on the server's event loop from any thread.

Handlers run on their own threads and reach the bus and the connections from there; what they
start (deliveries, frames) must run on the loop. :class:`LoopBinding` calls straight through on
the loop's own thread and hops with ``call_soon_threadsafe`` from any other.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any


class LoopBinding:
    """Calls callbacks on one event loop, from whichever thread asks."""

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Use ``loop``; call from the loop's own thread."""
        self._loop = loop
        self._thread = threading.get_ident()

    def on_loop_thread(self) -> bool:
        """Whether the caller runs on the loop's own thread."""
        return self._thread is not None and threading.get_ident() == self._thread

    def call(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` on the loop: now if this is its thread, soon otherwise."""
        if self._loop is None:
            raise RuntimeError(f"{self._owner}.bind(loop) must be called first")
        if threading.get_ident() == self._thread:
            callback(*args)
        else:
            self._loop.call_soon_threadsafe(callback, *args)
