"""Deterministic interleavings of handler code that runs in threads.

Each actor is a plain function run in its own thread. Every call it makes on a gated object
(a table, the management API) first stops at a gate; the test then says which actor performs its
next call, one call at a time. So a race is written down as a schedule and replayed exactly,
every run, on any machine: no sleeps, and a wait only ever ends early (its timeout is a failure
guard for a test that deadlocks).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: How long a step may take before the test fails as stuck (never reached by a passing test).
GUARD_SECONDS = 30.0


@dataclass
class _Actor:
    name: str
    at: str | None = None
    go: bool = False
    done: bool = False
    result: Any = None
    error: BaseException | None = None
    thread: threading.Thread | None = field(default=None, repr=False)


class Interleaving:
    """Runs actors one gated call at a time, in the order the test chooses."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._actors: dict[str, _Actor] = {}
        self._local = threading.local()
        #: (actor, call) in the order the calls were performed.
        self.trace: list[tuple[str, str]] = []

    def spawn(self, name: str, work: Callable[[], Any]) -> None:
        """Start ``work`` as actor ``name``, stopped before its first step."""
        actor = _Actor(name)

        def body() -> None:
            self._local.actor = actor
            try:
                self.gate("start")
                actor.result = work()
            except BaseException as error:  # kept, and raised by result()
                actor.error = error
            finally:
                with self._cond:
                    actor.done, actor.at = True, None
                    self._cond.notify_all()

        actor.thread = threading.Thread(target=body, name=f"actor-{name}", daemon=True)
        self._actors[name] = actor
        actor.thread.start()
        with self._cond:
            self._wait(lambda: actor.at is not None or actor.done)

    def gate(self, call: str) -> None:
        """Called by a gated object before ``call``: wait until the test lets this actor go.
        A thread that is not an actor (the test itself) passes straight through."""
        actor: _Actor | None = getattr(self._local, "actor", None)
        if actor is None:
            return
        with self._cond:
            actor.at, actor.go = call, False
            self._cond.notify_all()
            self._wait(lambda: actor.go)
            actor.at = None

    def waiting_at(self, name: str) -> str | None:
        """The call actor ``name`` waits to make, or None once it has finished."""
        return self._actors[name].at

    def step(self, name: str) -> str:
        """Let ``name`` make the call it waits at, and run on to its next gate (or its end)."""
        actor = self._actors[name]
        with self._cond:
            if actor.done:
                raise AssertionError(f"actor {name!r} has already finished; the schedule is wrong")
            call = actor.at
            assert call is not None
            actor.go = True
            self._cond.notify_all()
            self._wait(lambda: actor.done or (actor.at is not None and not actor.go))
        self.trace.append((name, call))
        return call

    def until(self, name: str, call: str) -> None:
        """Run ``name`` until it waits to make ``call`` (which it has not made yet)."""
        while self._actors[name].at != call:
            if self._actors[name].done:
                raise AssertionError(f"actor {name!r} finished without reaching {call!r}")
            self.step(name)

    def finish(self, *names: str) -> None:
        """Run each of ``names`` (all actors when none is given), in turn, to its end."""
        for name in names or tuple(self._actors):
            while not self._actors[name].done:
                self.step(name)

    def shuffle(self, rng: random.Random) -> None:
        """Run every actor to its end, choosing at each step a random actor that can move."""
        while running := [a.name for a in self._actors.values() if not a.done]:
            self.step(rng.choice(running))

    def result(self, name: str) -> Any:
        """What actor ``name`` returned; raises what it raised."""
        actor = self._actors[name]
        assert actor.done, f"actor {name!r} has not finished"
        if actor.error is not None:
            raise actor.error
        return actor.result

    def _wait(self, ready: Callable[[], bool]) -> None:
        if not self._cond.wait_for(ready, GUARD_SECONDS):
            raise TimeoutError(f"an actor did not reach its next gate in {GUARD_SECONDS} s")


class Gated:
    """``target`` with a gate before every method call, named ``{name}.{method}``."""

    def __init__(self, target: Any, name: str, interleaving: Interleaving) -> None:
        self._target = target
        self._name = name
        self._interleaving = interleaving

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._target, attribute)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            self._interleaving.gate(f"{self._name}.{attribute}")
            return value(*args, **kwargs)

        return call
