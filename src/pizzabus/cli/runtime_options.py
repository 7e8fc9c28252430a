"""The options that say what a process runs and how, shared by ``serve``, ``worker`` and
``cluster`` so that each means the same everywhere (as :mod:`.watching` does for how a running
system is watched)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from pizzabus.functions.retirement import DEFAULT_IDLE_TTL
from pizzabus.system.loading import DEFAULT_SYSTEM

F = TypeVar("F", bound=Callable[..., Any])


def system_option(help: str = "The system definition, as module:attribute.") -> Callable[[F], F]:
    """``--system module:attribute``, passed as ``system_ref``."""
    return click.option(
        "--system", "system_ref", default=DEFAULT_SYSTEM, show_default=True, help=help
    )


def replicas_option(when: str = "") -> Callable[[F], F]:
    """``--replicas N``: copies JetStream keeps of each stream; ``when`` says when it applies
    (``"With --nats: "``)."""
    text = (
        "copies JetStream keeps of each stream (3 on a 3-node NATS cluster); the gateways and "
        "the workers of one system must say the same."
    )
    return click.option(
        "--replicas",
        type=click.IntRange(1, 5),
        default=1,
        show_default=True,
        help=f"{when}{text}" if when else text[0].upper() + text[1:],
    )


environment_idle_ttl_option = click.option(
    "--environment-idle-ttl",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_IDLE_TTL,
    show_default=True,
    help="Seconds a function's execution environment may stay idle before it is shut down; "
    "the next invocation then starts cold, as on Lambda (which keeps them for minutes).",
)
