"""Processes that race each other in a test (spawned, so each has its own interpreter and its
own connections, as separate machines would)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.process import BaseProcess
from typing import Any

#: Make barriers and queues from this context, so that the racers can share them.
SPAWN = multiprocessing.get_context("spawn")


@contextmanager
def racing(
    target: Callable[..., Any], arguments: Sequence[tuple[Any, ...]], *, timeout: float
) -> Iterator[Sequence[BaseProcess]]:
    """One process of ``target`` per tuple of ``arguments``, all started at once; the body of
    the ``with`` runs while they do. On leaving it, each must end within ``timeout`` seconds
    with exit code 0 (on an error in the body they are stopped instead)."""
    workers = [SPAWN.Process(target=target, args=args) for args in arguments]
    for worker in workers:
        worker.start()
    try:
        yield workers
    except BaseException:
        for worker in workers:
            worker.terminate()
        raise
    for worker in workers:
        worker.join(timeout=timeout)
        assert worker.exitcode == 0, f"{worker.name} ended with exit code {worker.exitcode}"
