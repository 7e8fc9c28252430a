"""Retiring idle execution environments, as Lambda does.

Lambda shuts an execution environment down once it has been idle for a while (minutes; the
time is not documented), and the next invocation starts a new one cold, with an Init Duration
in its REPORT line. Keeping every environment warm forever means a process holds, for good,
as many environments (a thread and a private copy of the handler's modules each) as the
busiest burst it ever saw: in a long run that is memory that only grows.

Each function's idle environments form a stack (the most recently used is reused first), so
the bottom of the stack is the longest idle: retiring is popping from the bottom while it is
older than the time to live. The sweep sleeps until the oldest idle environment is due, and
not at all while no environment is idle, so a test that advances a manual clock by a week
wakes it once per retirement, not once per second.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from pizzabus.clock import Clock

#: Seconds an execution environment may stay idle before it is shut down. Lambda keeps them
#: for minutes, but there a cold start costs hundreds of milliseconds; here it costs about a
#: millisecond, and each warm environment holds a thread and its own modules on a laptop. A
#: minute keeps a person's clicks and a steady load warm, and frees what a burst warmed up a
#: minute after it ends.
DEFAULT_IDLE_TTL = 60.0


class IdlePool(Protocol):
    """The idle execution environments of one function."""

    def oldest_idle(self) -> float | None:
        """When (on the clock's monotonic time) the longest-idle environment went idle."""

    def retire(self, idle_since: float) -> int:
        """Shut down the environments idle since ``idle_since`` or before; how many."""


class IdleRetirement:
    """Shuts down execution environments idle longer than ``ttl`` seconds."""

    def __init__(self, ttl: float | None, clock: Clock) -> None:
        """``ttl`` None keeps idle environments warm for good."""
        self.ttl = ttl
        #: The pools it watches (the runtime adds its own).
        self.pools: list[IdlePool] = []
        self._clock = clock
        #: Set whenever an environment goes idle: with none idle, the sweep waits on this.
        self._idle = asyncio.Event()
        #: Call when an environment goes idle (once per invocation: one attribute check when
        #: the sweep is not waiting).
        self.went_idle = self._idle.set

    def retire(self) -> int:
        """Shut down each environment idle past the time to live now; how many."""
        if self.ttl is None:
            return 0
        return self._retire(self._clock.monotonic() - self.ttl)

    def _retire(self, idle_since: float) -> int:
        return sum(pool.retire(idle_since) for pool in self.pools)

    def _oldest_idle(self) -> float | None:
        oldest = [t for t in (pool.oldest_idle() for pool in self.pools) if t is not None]
        return min(oldest) if oldest else None

    async def run(self) -> None:
        """Retire environments as they come due, for ever (run as a task)."""
        ttl = self.ttl
        if ttl is None:
            return
        while True:
            self._idle.clear()
            oldest = self._oldest_idle()
            if oldest is None:
                await self._idle.wait()
                continue
            await self._clock.sleep(oldest + ttl - self._clock.monotonic())
            # At least the environment slept for, whatever the rounding of the clock's time
            # (a loop may wake a timer a little early): else the sweep could spin on it.
            self._retire(max(oldest, self._clock.monotonic() - ttl))
