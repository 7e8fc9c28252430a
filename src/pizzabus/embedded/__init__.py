"""The embedded runtime: the whole system in one process (the composition root).

Only this package chooses backends (memory or SQLite tables, the dead-letter queue) and wires
bus, function runtime, gateway and clients together.
"""

from pizzabus.embedded.system import EmbeddedSystem, Settings

__all__ = ["EmbeddedSystem", "Settings"]
