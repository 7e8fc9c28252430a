"""``python -m benchmarks.memtrace serve …``: ``pizzabus`` with tracemalloc on, dumping a
snapshot each time it gets ``SIGUSR2`` (``soak --tracemalloc`` sends it, then diffs them).

Snapshots go to ``$PIZZABUS_MEMTRACE_DIR/snapshot-<n>.tracemalloc``. Tracing every allocation
slows the server and adds its own memory: a diagnostic run, never the one a verdict is read
from.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from types import FrameType

#: Frames kept per allocation: enough to see which caller of a shared helper allocates (more
#: frames cost more CPU per allocation; ``PIZZABUS_MEMTRACE_FRAMES`` changes it).
FRAMES = 8
ENV = "PIZZABUS_MEMTRACE_DIR"


def _dumper(folder: Path) -> Callable[[int, FrameType | None], None]:
    serial = itertools.count(1)

    def dump(signum: int, frame: FrameType | None) -> None:
        snapshot = tracemalloc.take_snapshot()
        snapshot.dump(str(folder / f"snapshot-{next(serial)}.tracemalloc"))

    return dump


def main() -> None:
    folder = Path(os.environ[ENV])
    folder.mkdir(parents=True, exist_ok=True)
    tracemalloc.start(int(os.environ.get("PIZZABUS_MEMTRACE_FRAMES", FRAMES)))
    signal.signal(signal.SIGUSR2, _dumper(folder))
    from pizzabus.cli.main import main as pizzabus

    sys.argv[0] = "pizzabus"
    pizzabus()


def diff(before: Path, after: Path, top: int = 15) -> list[str]:
    """The allocation sites that grew most between two snapshots, as lines for people."""
    filters = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    ]
    old = tracemalloc.Snapshot.load(str(before)).filter_traces(filters)
    new = tracemalloc.Snapshot.load(str(after)).filter_traces(filters)
    lines = []
    for stat in new.compare_to(old, "traceback")[:top]:
        # Most recent call first: where the memory was allocated, then who called that.
        recent = list(stat.traceback)[::-1][:4]
        frames = " < ".join(f"{Path(f.filename).name}:{f.lineno}" for f in recent)
        lines.append(f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  {frames}")
    return lines


if __name__ == "__main__":
    main()
