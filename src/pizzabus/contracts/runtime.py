"""The Runtime seam: a system definition, running, as the CLI starts and serves it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pizzabus.contracts.operations import Operations
from pizzabus.system import SystemDefinition


@dataclass(frozen=True)
class Distribution:
    """Where a distributed node finds its broker and its tables."""

    #: The NATS server(s), e.g. ``nats://127.0.0.1:4222`` (comma-separated for a cluster).
    nats_url: str
    #: The shared table store: ``postgresql://…`` (or ``sqlite:///path`` on one machine).
    tables_url: str
    #: Copies JetStream keeps of each stream (3 on a 3-node NATS cluster).
    replicas: int = 1
    #: Events and deliveries waiting before PutEvents answers ThrottlingException.
    max_backlog: int = 100_000


class Runtime(Protocol):
    """A running system: ``app`` (ASGI) serves it; its lifespan calls ``start``/``stop``."""

    definition: SystemDefinition

    @property
    def app(self) -> Any:
        """The ASGI application of the gateway."""

    @property
    def operations(self) -> Operations:
        """What the admin API asks of it."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def stats(self) -> dict[str, Any]: ...

    def describe_tables(self) -> str:
        """Where the tables live, in a few words (for the start-up banner)."""
