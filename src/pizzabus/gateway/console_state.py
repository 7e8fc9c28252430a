"""What the operator console shows, as one JSON document it polls (``/_pizzabus/console/state``).

The system's map is drawn from the definition (HTTP API → bus → rules → functions → tables and
the WebSocket API), each edge carrying the counter that says how much went along it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pizzabus.system import PutEventsIntegration, SystemDefinition
from pizzabus.telemetry import Telemetry


def system_map(definition: SystemDefinition) -> dict[str, Any]:
    """Nodes and edges of the definition; each edge names the count it shows (``count``)."""
    nodes: list[dict[str, str]] = []
    edges: list[dict[str, Any]] = []

    def node(kind: str, name: str) -> str:
        node_id = f"{kind}:{name}"
        if not any(n["id"] == node_id for n in nodes):
            nodes.append({"id": node_id, "kind": kind, "name": name})
        return node_id

    api = definition.http_api
    if api is not None:
        api_node = node("http_api", api.name)
        for route in api.routes:
            integration = route.integration
            reached = (
                node("bus", integration.bus)
                if isinstance(integration, PutEventsIntegration)
                else node("function", integration.function)
            )
            edges.append(
                {"from": api_node, "to": reached, "count": ["request", api.name, route.route_key]}
            )
    for bus in definition.buses:
        bus_node = node("bus", bus.name)
        for rule in bus.rules:
            rule_node = node("rule", rule.name)
            edges.append({"from": bus_node, "to": rule_node, "count": ["matched", rule.name]})
            for rule_target in rule.targets:
                edges.append(
                    {
                        "from": rule_node,
                        "to": node("function", rule_target.function),
                        "count": ["target", rule.name, rule_target.function],
                    }
                )
    ws = definition.websocket_api
    if ws is not None:
        ws_node = node("websocket_api", ws.name)
        for route_key, routed in ws.routes.items():
            edges.append(
                {
                    "from": ws_node,
                    "to": node("function", routed),
                    "count": ["invocations", routed],
                    "label": route_key,
                }
            )
    for function in definition.functions:
        function_node = node("function", function.name)
        for grant in function.grants:
            if grant.kind == "events:PutEvents":
                to, count = node("bus", grant.resource), ["events", grant.resource]
            elif grant.kind.startswith("dynamodb:"):
                to, count = node("table", grant.resource), ["none"]
            else:
                to, count = node("websocket_api", grant.resource), ["pushes"]
            edge = {"from": function_node, "to": to, "count": count, "label": grant.kind}
            if not any(e["from"] == function_node and e["to"] == to for e in edges):
                edges.append(edge)
    return {"name": definition.name, "nodes": nodes, "edges": edges}


def console_state(
    telemetry: Telemetry,
    the_map: dict[str, Any],
    stats: Callable[[], dict[str, Any]],
    dead_letters: Callable[[], list[dict[str, Any]]],
    retries: Callable[[], list[dict[str, Any]]],
    faults: Callable[[], dict[str, Any]],
    connections: Callable[[], list[dict[str, Any]]],
    processes: list[dict[str, Any]],
) -> dict[str, Any]:
    """Everything the console shows, now. ``processes``: the live processes serving the system
    (the one server, or a cluster's gateways and workers), each as :func:`process` gives."""
    metrics = telemetry.metrics
    return {
        "map": the_map,
        "now": telemetry.now(),
        "functions": metrics.functions(),
        "counters": metrics.snapshot(),
        "series": [{"t": t, **values} for t, values in telemetry.series],
        "stats": stats(),
        "dead_letters": dead_letters()[:100],
        "retries": retries()[:100],
        "traces": telemetry.traces.recent(25) if telemetry.traces is not None else [],
        "faults": faults(),
        "connections": connections(),
        "tracing": telemetry.traces is not None,
        "invocation_logs": telemetry.log is not None,
        "nodes": processes,
    }


def process(
    node: str, kind: str, pid: int | None, metrics: str | None, heartbeat_age_s: float
) -> dict[str, Any]:
    """One line of the console's list of processes; ``metrics``: where its ``/metrics`` is
    served (``host:port``), ``heartbeat_age_s``: seconds since it was last heard of."""
    return {
        "node": node,
        "kind": kind,
        "pid": pid,
        "metrics": metrics,
        "heartbeat_age_s": round(heartbeat_age_s, 1),
    }
