"""A process's label on each line it writes, so the output of N processes side by side reads.

``pizzabus worker --processes N`` runs N processes writing to one terminal: their invocation
logs and handler output interleave line by line. Each worker process wraps its stdout and
stderr in a :class:`LabelledStream` (``[worker 1] [cook_pizza 3f2a9c1e] START …``); a line is
written in one call, so lines of two processes never mix within a line.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from pizzabus.functions.logs import WrappedStream


class LabelledStream(WrappedStream):
    """Prefixes each line written to ``underlying`` with ``label``."""

    def __init__(self, underlying: TextIO, label: str) -> None:
        super().__init__(underlying)
        self.label = label
        self._at_line_start = True
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # click probes streams with b"": a text stream refuses
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if not text:
            return 0
        label = self.label
        with self._lock:
            out = text.replace("\n", "\n" + label)
            if self._at_line_start:
                out = label + out
            self._at_line_start = text.endswith("\n")
            if self._at_line_start:
                out = out[: -len(label)]
            self.underlying.write(out)
        return len(text)


def label_output(label: str) -> None:
    """Label every line this process writes to stdout and stderr (call before anything
    else wraps them, e.g. the handlers' output attribution)."""
    if not isinstance(sys.stdout, LabelledStream):
        sys.stdout = LabelledStream(sys.stdout, label)
    if not isinstance(sys.stderr, LabelledStream):
        sys.stderr = LabelledStream(sys.stderr, label)
