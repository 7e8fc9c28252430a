"""``START`` / ``END`` / ``REPORT`` lines, as Lambda writes them for every invocation.

::

    [cook_pizza 1a2b3c4d] START RequestId: 1a2b3c4d-… Version: $LATEST
    [cook_pizza 1a2b3c4d] END RequestId: 1a2b3c4d-…
    [cook_pizza 1a2b3c4d] REPORT RequestId: 1a2b3c4d-…	Duration: 0.42 ms	Billed Duration: 1 ms
        Memory Size: 128 MB	Max Memory Used: 64 MB	(one line, fields separated by tabs)

What it costs under load is the point of the design:

- **Buffered.** An invocation appends one tuple; the lines are formatted and written in one
  write by :meth:`InvocationLog.flush`, which the server calls a few times a second. A handler
  that prints first has its ``START`` written before its own line (:meth:`announce`), so the
  order on screen stays Lambda's.
- **Summarised above a rate.** Above ``summary_above`` invocations a second, a line per
  invocation is more than anyone reads and costs throughput, so each function gets one summary
  line a second (count, p50, p99, max, errors, cold starts) instead. Failed invocations always
  get their own lines.

``Max Memory Used`` is the server process's peak RSS (every function shares the process).
"""

from __future__ import annotations

import math
import resource
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

#: Invocations a second above which lines become one summary a second per function.
DEFAULT_SUMMARY_ABOVE = 200.0


class _Record(NamedTuple):
    function: str
    request_id: str
    duration: float  # seconds
    memory_mb: int
    init: float | None  # seconds, on a cold start
    error: str | None  # "Type: message"
    timed_out: bool


@dataclass
class _Summary:
    durations: list[float] = field(default_factory=list)
    cold: int = 0


def _default_write(text: str) -> None:
    stream = getattr(sys.stdout, "underlying", sys.stdout)
    stream.write(text)
    stream.flush()


def _max_memory_mb() -> int:
    # Linux reports kilobytes.
    return math.ceil(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def prefix(function: str, request_id: str) -> str:
    """The prefix of every line of one invocation, as handler output has it."""
    return f"[{function} {request_id[:8]}]"


class InvocationLog:
    """The invocation log lines of one server."""

    def __init__(
        self,
        write: Callable[[str], None] = _default_write,
        *,
        summary_above: float = DEFAULT_SUMMARY_ABOVE,
        memory_used: Callable[[], int] = _max_memory_mb,
    ) -> None:
        self._write = write
        self.summary_above = summary_above
        self._memory_used = memory_used
        self._pending: deque[tuple[Any, ...]] = deque()
        self._announced: set[str] = set()
        self._summaries: dict[str, _Summary] = {}
        self._last_flush: float | None = None
        self._summary_since: float | None = None

    def record(
        self,
        function: str,
        request_id: str,
        duration: float,
        memory_mb: int,
        init: float | None,
        error: str | None,
        timed_out: bool = False,
    ) -> None:
        """An invocation finished (any thread): queue its lines."""
        # A plain tuple: cheaper to make than the record it is read as.
        self._pending.append((function, request_id, duration, memory_mb, init, error, timed_out))

    def record_raw(self, item: tuple[Any, ...]) -> None:
        """:meth:`record`'s fields as one tuple, in its order (the recorder's hot path)."""
        self._pending.append(item)

    def announce(self, function: str, request_id: str) -> None:
        """The handler is about to print: write what is queued, then its ``START``."""
        self._announced.add(request_id)
        self.flush(None)
        self._write(
            f"{prefix(function, request_id)} START RequestId: {request_id} Version: $LATEST\n"
        )

    def flush(self, now: float | None) -> None:
        """Write the queued lines (or, above the rate, add them to this second's summary).

        ``now`` (monotonic seconds) is given by the periodic flush, which judges the rate and
        writes summaries; None writes every queued line.
        """
        records: list[_Record] = []
        pending = self._pending
        while pending:
            records.append(_Record._make(pending.popleft()))
        lines: list[str] = []
        if now is not None:
            since = self._last_flush
            self._last_flush = now
            if since is not None and records and len(records) > self.summary_above * (now - since):
                records = self._summarise(records, now)
            if self._summaries and (
                self._summary_since is None or now - self._summary_since >= 1.0 or not records
            ):
                lines.extend(self._summary_lines(now))
        if records:
            memory = self._memory_used()
            for record in records:
                lines.extend(self._lines(record, memory))
        if lines:
            self._write("".join(lines))

    def _summarise(self, records: list[_Record], now: float) -> list[_Record]:
        """Fold the successful ones into the summaries; the failed ones keep their lines."""
        if self._summary_since is None:
            self._summary_since = now
        failed = []
        for record in records:
            self._announced.discard(record.request_id)
            summary = self._summaries.get(record.function)
            if summary is None:
                summary = self._summaries[record.function] = _Summary()
            summary.durations.append(record.duration)
            summary.cold += record.init is not None
            if record.error is not None:
                failed.append(record)
        return failed

    def _summary_lines(self, now: float) -> list[str]:
        seconds = now - (self._summary_since or now)
        self._summary_since = None
        lines = []
        for function, summary in sorted(self._summaries.items()):
            durations = sorted(summary.durations)
            count = len(durations)
            p50 = durations[count // 2] * 1000
            p99 = durations[min(count - 1, int(count * 0.99))] * 1000
            lines.append(
                f"[{function}] {count} invocations in {max(seconds, 0.001):.1f} s (over "
                f"{self.summary_above:.0f}/s, so one line a second instead of START/END/REPORT "
                f"each): Duration p50 {p50:.2f} ms, p99 {p99:.2f} ms, max "
                f"{durations[-1] * 1000:.2f} ms; {summary.cold} cold starts\n"
            )
        self._summaries.clear()
        return lines

    def _lines(self, record: _Record, memory: int) -> list[str]:
        request_id = record.request_id
        head = prefix(record.function, request_id)
        lines = []
        if request_id in self._announced:
            self._announced.discard(request_id)
        else:
            lines.append(f"{head} START RequestId: {request_id} Version: $LATEST\n")
        if record.error is not None:
            lines.append(f"{head} [ERROR] {record.error}\n")
        milliseconds = record.duration * 1000
        report = (
            f"{head} REPORT RequestId: {request_id}\tDuration: {milliseconds:.2f} ms\t"
            f"Billed Duration: {max(1, math.ceil(milliseconds))} ms\t"
            f"Memory Size: {record.memory_mb} MB\tMax Memory Used: {memory} MB"
        )
        if record.init is not None:
            report += f"\tInit Duration: {record.init * 1000:.2f} ms"
        if record.timed_out:
            report += "\tStatus: timeout"
        lines.append(f"{head} END RequestId: {request_id}\n")
        lines.append(report + "\n")
        return lines
