"""Keeps N worker processes running: one that dies (``os._exit``, a segfault, the OOM killer) is
started again; its unacknowledged deliveries go to the others after their ack wait, and run
again. Ctrl+C or SIGTERM stops them all.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType

from pizzabus.devservers.nats import die_with_parent

log = logging.getLogger("pizzabus.distributed.supervisor")

#: Restarts of one slot within a minute before the supervisor waits longer between them.
FAST_RESTARTS = 5


@dataclass
class Slot:
    index: int
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)


class Supervisor:
    """Runs ``command`` in ``count`` processes and restarts any that exits."""

    def __init__(
        self,
        command: Sequence[str],
        count: int,
        *,
        on_event: Callable[[str], None] = print,
    ) -> None:
        self.command = list(command)
        self.slots = [Slot(i) for i in range(count)]
        self.on_event = on_event
        self._stopping = False

    def _start(self, slot: Slot) -> None:
        slot.process = subprocess.Popen(
            [*self.command, "--slot", str(slot.index)],
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl, before exec
        )

    def run(self) -> int:
        """Supervise until stopped by a signal; the exit status."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for slot in self.slots:
                self._start(slot)
            self.on_event(f"supervising {len(self.slots)} worker process(es)")
            while not self._stopping:
                for slot in self.slots:
                    self._check(slot)
                time.sleep(0.2)
        finally:
            self._terminate()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def _check(self, slot: Slot) -> None:
        process = slot.process
        if process is None or process.poll() is None or self._stopping:
            return
        status = process.returncode
        why = f"signal {-status}" if status < 0 else f"status {status}"
        now = time.monotonic()
        slot.restarts = [t for t in slot.restarts if now - t < 60] + [now]
        if len(slot.restarts) > FAST_RESTARTS:
            time.sleep(1.0)  # crashing in a loop: do not spin
        self.on_event(f"worker process {slot.index} (pid {process.pid}) exited ({why}); restarting")
        self._start(slot)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def _terminate(self) -> None:
        running = [s.process for s in self.slots if s.process and s.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
