"""The one place that chooses a runtime for a definition: embedded (the default), or a gateway
node of the distributed runtime when a NATS URL is given. The CLI starts what it gets through
the :class:`~pizzabus.contracts.Runtime` seam and knows nothing of either's internals."""

from __future__ import annotations

from pizzabus.contracts.runtime import Distribution, Runtime
from pizzabus.embedded import EmbeddedSystem, Settings
from pizzabus.system import SystemDefinition


def open_runtime(
    definition: SystemDefinition,
    settings: Settings,
    distribution: Distribution | None = None,
) -> Runtime:
    """The runtime that serves ``definition``: embedded, or a distributed gateway node."""
    if distribution is None:
        return EmbeddedSystem(definition, settings)
    from pizzabus.distributed.gateway import GatewayNode

    return GatewayNode(definition, settings, distribution)


__all__ = ["Distribution", "open_runtime"]
