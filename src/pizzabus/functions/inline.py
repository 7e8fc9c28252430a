"""Running warm invocations on the event loop's own thread, when that is safe.

Each execution environment has its own thread, and handing an invocation to it and the result
back costs two thread switches and a fight for the GIL: measured at saturation, about a third
of an order's CPU went to that hand-off, not to the handlers. A function whose invocations are
short and never block gains nothing from a thread of its own, so once a function's warm
invocations have shown that, its next warm invocations run *inline*: on the loop's thread,
in the environment's own context (its ``os.environ`` layer and log attribution), one at a time.

What keeps that safe:

- **Promotion is earned.** A function starts on threads; after ``promote_after`` invocations in
  a row that each used little CPU and finished quickly, it runs inline.
- **Slow inline invocations demote the function.** Two that held the loop longer than
  ``inline_budget`` (they blocked on a sleep, I/O or a lock, or computed for long) with fewer
  than ``slow_window`` quick ones between them send the function back to threads, and it must
  then show twice as many quick invocations in a row to come back. One alone is forgiven: it
  is most often the machine, not the handler (a checkpoint's fsync, the scheduler giving the
  core to another process), where a handler that blocks does so again at once. The garbage
  collector's pauses inside an invocation are not counted (:class:`GcPauses`): a full
  collection takes tens of ms once the heap is large, and says nothing of the handler.
- **A demotion is not for life.** The streak needed stops doubling at ``max_needed``, and
  ``forgive_after`` quick inline invocations in a row bring it back to ``promote_after``. The
  machine still demotes a quick function now and then, and on threads its invocations cost
  about a third more CPU; under a backlog a thread invocation is rarely quick, so a streak
  that doubled without end kept it there for good, and the server, slower on threads, never
  caught up again (a soak at half of saturation collapsed after 9 minutes this way). The
  price: a handler that blocks every time for longer than the budget but less than
  ``quick_wall`` looks quick on its thread, so it is tried inline again after every
  ``max_needed`` invocations, and stalls the loop ``demote_after`` times each time (about 2%
  of its invocations).
- **Timeouts still hold.** An inline invocation is interrupted at its function's timeout by
  ``SIGALRM``, whose Python handler runs on the main thread between two bytecodes (a blocking
  ``time.sleep`` included): the invocation fails with ``Sandbox.Timedout`` and its environment is
  discarded, as on threads. That is why inline runs need the loop on the main thread; elsewhere
  (an embedded loop on another thread) every invocation stays on its thread.

What is given up: while an inline invocation runs, the loop serves nothing else, so one that
blocks stalls the server until it returns or times out (and is then demoted). A handler that
catches even the interrupt (``except BaseException``) and loops forever would stall it for
good, where on its own thread it would only lose that thread: ``pizzabus serve --isolate``
keeps every invocation on threads, for code like that.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from dataclasses import dataclass
from types import FrameType

from pizzabus.functions.errors import InvocationInterrupt

log = logging.getLogger("pizzabus.functions")


@dataclass(frozen=True)
class InlineLimits:
    """When a function may run inline."""

    #: Quick invocations in a row (on threads) before a function runs inline.
    promote_after: int = 3
    #: CPU time a thread invocation may use and still count as quick.
    quick_cpu: float = 0.005
    #: Wall time a thread invocation may take and still count as quick (it includes the wait
    #: for the GIL, which is long under load).
    quick_wall: float = 0.1
    #: Wall time an inline invocation may hold the loop (less the garbage collector's pauses)
    #: before its function goes back to threads.
    inline_budget: float = 0.02
    #: Slow inline invocations (over ``inline_budget``) that demote a function, when fewer
    #: than ``slow_window`` quick ones came between them.
    demote_after: int = 2
    slow_window: int = 100
    #: The most quick thread invocations in a row a demoted function is ever asked for.
    max_needed: int = 96
    #: Quick inline invocations in a row after which earlier demotions are forgotten.
    forgive_after: int = 1000


@dataclass
class Placement:
    """Where one function's warm invocations run, and what earned it."""

    inline: bool = False
    streak: int = 0
    needed: int = 3
    inline_runs: int = 0
    thread_runs: int = 0
    demotions: int = 0
    #: Inline invocations in a row that stayed within the budget.
    inline_streak: int = 0
    #: Inline invocations over the budget since the last demotion, not yet forgiven.
    slow_runs: int = 0


class InlinePolicy:
    """Decides, per function, between the environment's thread and the loop's."""

    def __init__(self, limits: InlineLimits | None = None) -> None:
        self.limits = limits or InlineLimits()

    def new_placement(self) -> Placement:
        return Placement(needed=self.limits.promote_after)

    def ran_on_thread(self, function: str, placement: Placement, wall: float, cpu: float) -> None:
        """A thread invocation finished (it returned or raised; it did not time out)."""
        placement.thread_runs += 1
        if wall <= self.limits.quick_wall and cpu <= self.limits.quick_cpu:
            placement.streak += 1
            if placement.streak >= placement.needed:
                placement.inline = True
        else:
            placement.streak = 0

    def ran_inline(self, function: str, placement: Placement, held: float) -> None:
        """An inline invocation finished (it returned or raised) after holding the loop for
        ``held`` seconds, garbage collection excluded."""
        placement.inline_runs += 1
        if held > self.limits.inline_budget:
            placement.inline_streak = 0
            placement.slow_runs += 1
            if placement.slow_runs >= self.limits.demote_after:
                self.demote(function, placement, held)
            return
        placement.inline_streak += 1
        if placement.inline_streak >= self.limits.slow_window:
            placement.slow_runs = 0
        if placement.inline_streak >= self.limits.forgive_after:
            placement.needed = self.limits.promote_after

    def timed_out_on_thread(self, placement: Placement) -> None:
        """A thread invocation ran past its timeout: not quick."""
        placement.thread_runs += 1
        placement.streak = 0

    def demote(self, function: str, placement: Placement, wall: float) -> None:
        placement.inline = False
        placement.streak = 0
        placement.inline_streak = 0
        placement.slow_runs = 0
        if placement.needed < self.limits.max_needed:
            placement.needed = min(placement.needed * 2, self.limits.max_needed)
        placement.demotions += 1
        log.info(
            "%s: an invocation held the event loop for %.0f ms; its invocations run on their "
            "own threads again (back inline after %d quick ones in a row)",
            function,
            wall * 1000,
            placement.needed,
        )


class GcPauses:
    """The garbage collector's pauses so far, in seconds (``time.perf_counter``).

    Timed with ``gc.callbacks`` (a collection runs every few hundred allocations, so this costs
    far less than reading a thread's CPU clock, a system call, around every invocation).
    """

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0
        self._installed = False
        self._thread: int | None = None

    def install(self) -> None:
        """Time the collections that run on the calling thread (the loop's)."""
        if not self._installed:
            self._thread = threading.get_ident()
            gc.callbacks.append(self._observe)
            self._installed = True

    def uninstall(self) -> None:
        if self._installed:
            gc.callbacks.remove(self._observe)
            self._installed = False

    def _observe(self, phase: str, info: dict[str, int]) -> None:
        if threading.get_ident() != self._thread:
            return  # another thread's collection did not hold up the loop's invocation
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started


class InlineAlarm:
    """Interrupts an inline invocation at its timeout, with ``SIGALRM``.

    Only usable from the main thread (where Python runs signal handlers), and only when nothing
    else has claimed ``SIGALRM``. Past the timeout the alarm fires again every ``repeat``
    seconds until disarmed, so a handler that swallows the interrupt (a bare ``except:``) in
    a loop is interrupted again; and it never raises inside the runtime's own code around the
    handler (``protected`` files), which must always restore what it changed.
    """

    def __init__(self, protected: frozenset[str] = frozenset(), repeat: float = 0.05) -> None:
        self._protected = protected
        self._repeat = repeat
        self._armed = False
        self._installed = False
        #: Whether the alarm went off since it was last armed.
        self.fired = False

    def install(self) -> bool:
        """Take ``SIGALRM``; False when inline runs are not possible here."""
        if self._installed:
            return True
        if threading.current_thread() is not threading.main_thread():
            return False
        if signal.getsignal(signal.SIGALRM) not in (signal.SIG_DFL, None):
            return False  # someone else's alarm: leave it alone
        signal.signal(signal.SIGALRM, self._fire)
        self._installed = True
        return True

    def uninstall(self) -> None:
        if self._installed and threading.current_thread() is threading.main_thread():
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
        self._installed = False

    def arm(self, timeout: float) -> None:
        """Raise :class:`InvocationInterrupt` on this thread after ``timeout`` seconds, and
        again every ``repeat`` seconds, until :meth:`disarm`."""
        self.fired = False
        signal.setitimer(signal.ITIMER_REAL, timeout, self._repeat)
        self._armed = True

    def disarm(self) -> None:
        self._armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)

    def _fire(self, signum: int, frame: FrameType | None) -> None:
        # Runs on the main thread, between two bytecodes of whatever it was running. Outside an
        # inline invocation, do nothing; inside the runtime's own code around the handler, only
        # note it (the runtime checks ``fired`` when the handler returns, and the alarm comes
        # again); in the handler's code, stop it there.
        if not self._armed:
            return
        self.fired = True
        if frame is not None and frame.f_code.co_filename in self._protected:
            return
        raise InvocationInterrupt
