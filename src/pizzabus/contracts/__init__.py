"""The seams between the layers: records and Protocols that several layers share.

Embedded and distributed are two compositions of the same parts. What one part needs from
another is written here, once, as a Protocol (a :class:`Publisher` for PutEvents, an
:class:`Invoker` for a function invocation, a :class:`ConnectionDirectory` for pushes, a
:class:`Runtime` for the CLI to start), with the small records they pass (the runtime's identity,
ids). Nothing here does I/O or knows which backend runs behind it.
"""

from pizzabus.contracts.connections import ConnectionDirectory
from pizzabus.contracts.identity import RuntimeIdentity
from pizzabus.contracts.invoker import NOT_NOW, Invocations, Invoke, InvokeNow, Invoker
from pizzabus.contracts.operations import Operations
from pizzabus.contracts.publisher import Publisher
from pizzabus.contracts.runtime import Runtime

__all__ = [
    "NOT_NOW",
    "ConnectionDirectory",
    "Invocations",
    "Invoke",
    "InvokeNow",
    "Invoker",
    "Operations",
    "Publisher",
    "Runtime",
    "RuntimeIdentity",
]
