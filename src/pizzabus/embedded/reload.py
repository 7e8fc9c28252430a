"""Hot reload: a saved handler takes effect on the next invocation, as a new Lambda version.

:class:`CodeWatcher` watches the definition's code folders with ``watchfiles`` (native file
events, debounced); when Python files change, it discards the warm execution environments of
the functions whose code lives there, so their next invocations load the code afresh, and logs
one line. A file that no longer compiles fails those invocations with Lambda's
``Runtime.UserCodeSyntaxError`` (the bus retries them like any failure) until the next good save.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from watchfiles import Change, awatch

from pizzabus.system import Function

log = logging.getLogger("pizzabus.reload")

#: Discards the warm environments of the named functions.
Discard = Callable[[list[str]], int]


def _python_file(change: Change, path: str) -> bool:
    return path.endswith(".py")


class CodeWatcher:
    """Watches the code folders of ``functions`` while :meth:`run` runs."""

    def __init__(
        self,
        functions: Sequence[Function],
        discard: Discard,
        *,
        debounce_ms: int = 200,
        on_reload: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.folders: dict[Path, list[str]] = {}
        for function in functions:
            folder = function.code_dir.resolve()
            self.folders.setdefault(folder, []).append(function.name)
        self._discard = discard
        self._debounce_ms = debounce_ms
        self._on_reload = on_reload
        self._stop = asyncio.Event()
        #: Set once the watcher watches (tests wait on it before they edit a file).
        self.watching = asyncio.Event()
        #: Reloads done so far.
        self.reloads = 0

    def affected(self, paths: Sequence[str]) -> tuple[list[str], list[str]]:
        """The functions whose code folder holds one of ``paths``, and those files' names."""
        names: list[str] = []
        files: list[str] = []
        for raw in paths:
            path = Path(raw).resolve()
            for folder, functions in self.folders.items():
                if path.is_relative_to(folder):
                    files.append(str(path.relative_to(folder)))
                    names.extend(n for n in functions if n not in names)
        return names, sorted(set(files))

    def reload(self, paths: Sequence[str]) -> list[str]:
        """Discard the environments the changed ``paths`` make out of date; log one line."""
        names, files = self.affected(paths)
        if not names:
            return []
        self._discard(names)
        self.reloads += 1
        log.info(
            "reloaded %s: %s changed; their next invocations load the new code",
            ", ".join(names),
            ", ".join(files),
        )
        if self._on_reload is not None:
            self._on_reload(names)
        return names

    async def run(self) -> None:
        """Watch until :meth:`stop`."""
        if not self.folders:
            return
        watcher = awatch(
            *self.folders,
            watch_filter=_python_file,
            debounce=self._debounce_ms,
            stop_event=self._stop,
            recursive=True,
        )
        self.watching.set()
        async for changes in watcher:
            try:
                self.reload([path for _, path in changes])
            except Exception:  # a reload failing must not stop the watching
                log.exception("reloading after a change failed")

    def stop(self) -> None:
        self._stop.set()
