"""The system definition: plain, frozen data describing buses, rules, functions, APIs and tables.

Every runtime reads it (embedded, AWS via CDK), so nothing about the wiring is written twice.
It knows nothing about any particular application; ``pizzabus.pizza.system`` is one instance.
"""

from pizzabus.system.model import (
    Archive,
    Cors,
    EventBus,
    Function,
    GlobalIndex,
    Grant,
    HttpApi,
    HttpRoute,
    KeyAttribute,
    LambdaIntegration,
    PutEventsIntegration,
    RetryPolicy,
    Rule,
    SystemDefinition,
    Table,
    Target,
    WebSocketApi,
    WebSocketEndpoint,
    bus_name_of,
)

__all__ = [
    "Archive",
    "Cors",
    "EventBus",
    "Function",
    "GlobalIndex",
    "Grant",
    "HttpApi",
    "HttpRoute",
    "KeyAttribute",
    "LambdaIntegration",
    "PutEventsIntegration",
    "RetryPolicy",
    "Rule",
    "SystemDefinition",
    "Table",
    "Target",
    "WebSocketApi",
    "WebSocketEndpoint",
    "bus_name_of",
]
