"""Per-function environment variables in one process.

Handlers read ``os.environ`` as on Lambda, and two functions may give the same variable
different values. :func:`install` replaces ``os.environ`` (and so ``os.getenv``) with a mapping
that reads the current execution environment's variables when called from one of its threads,
and the process's own everywhere else. Outside an execution environment it is transparent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping
from contextvars import ContextVar
from typing import Any

_current: ContextVar[dict[str, str] | None] = ContextVar("pizzabus_function_environ", default=None)


class FunctionEnviron(MutableMapping[str, str]):
    """``os.environ`` with a per-execution-environment layer."""

    def __init__(self, process: MutableMapping[str, str]) -> None:
        self.process = process

    def _target(self) -> MutableMapping[str, str]:
        layer = _current.get()
        return self.process if layer is None else layer

    def __getitem__(self, key: str) -> str:
        return self._target()[key]

    def get(self, key: str, default: Any = None) -> Any:
        # Mapping.get would raise and catch a KeyError for each missing variable.
        return self._target().get(key, default)

    def __setitem__(self, key: str, value: str) -> None:
        self._target()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._target()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._target()))

    def __len__(self) -> int:
        return len(self._target())

    def copy(self) -> dict[str, str]:
        return dict(self._target())

    def __repr__(self) -> str:
        return f"FunctionEnviron({dict(self._target())!r})"


def install() -> None:
    """Make ``os.environ`` layered (idempotent; harmless to code outside functions)."""
    if not isinstance(os.environ, FunctionEnviron):
        # Replacing (not clearing) is the point: the process's variables stay underneath.
        os.environ = FunctionEnviron(os.environ)  # type: ignore[assignment]  # noqa: B003


def enter(variables: dict[str, str]) -> None:
    """Make ``variables`` the environment of the calling thread (an execution environment)."""
    _current.set(variables)


def process_environment() -> MutableMapping[str, str]:
    """The process's own variables, whatever the calling thread."""
    return os.environ.process if isinstance(os.environ, FunctionEnviron) else os.environ
