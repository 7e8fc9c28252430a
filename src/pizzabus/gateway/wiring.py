"""The API Gateway a definition asks for, wired the same way by every runtime that serves it.

The embedded system and a distributed gateway node serve the same HTTP API, WebSocket API and
management API; an embedded system and a distributed worker give handlers the same management
endpoint (``APIGW_ENDPOINT``). They differ only in what they plug in: who publishes, who
invokes, which connections.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from starlette.routing import BaseRoute, Route

from pizzabus.clock import Clock
from pizzabus.contracts.connections import ConnectionDirectory
from pizzabus.contracts.identity import RuntimeIdentity
from pizzabus.contracts.invoker import Invoker
from pizzabus.contracts.publisher import Publisher
from pizzabus.gateway.connections import ConnectionRegistry, Forbidden, new_connection_id
from pizzabus.gateway.http_api import build_routes
from pizzabus.gateway.management import management_routes
from pizzabus.gateway.websocket_api import WebSocketGateway
from pizzabus.system import SystemDefinition, WebSocketEndpoint


def api_id(name: str) -> str:
    """A stable, API Gateway-shaped id (10 lowercase alphanumerics) for a named API."""
    return hashlib.sha256(name.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class ApiParts:
    """What :func:`~pizzabus.gateway.app.build_app` serves of a definition's APIs."""

    api_routes: list[BaseRoute]
    websocket: WebSocketGateway | None
    management: list[Route]


def api_parts(
    definition: SystemDefinition,
    *,
    connections: ConnectionRegistry | None,
    publisher: Publisher,
    invoker: Invoker,
    identity: RuntimeIdentity,
    admin_token: str,
    clock: Clock,
    new_id: Callable[[], str] = new_connection_id,
) -> ApiParts:
    """The HTTP API's routes, the WebSocket API and its management routes of ``definition``
    (each absent when the definition has none). ``new_id`` names new sockets
    (a distributed gateway puts its own name in them)."""
    http = definition.http_api
    api_routes: list[BaseRoute] = (
        list(
            build_routes(
                http,
                router=publisher,
                invoke=invoker.invoke,
                identity=identity,
                api_id=api_id(http.name),
            )
        )
        if http
        else []
    )
    ws = definition.websocket_api
    if ws is None or connections is None:
        return ApiParts(api_routes, None, [])
    return ApiParts(
        api_routes,
        WebSocketGateway(ws, connections, invoker, api_id(ws.name), new_id=new_id),
        management_routes(connections, ws.stage, secret=admin_token, clock=clock),
    )


class ManagementEndpoint:
    """The management API of the definition's WebSocket API, as handlers reach it: its URL,
    and the check that a handler's ``endpoint_url`` names it (what a Platform's
    ``connection_manager`` answers)."""

    def __init__(self, definition: SystemDefinition, base_url: str) -> None:
        self._definition = definition
        self._base_url = base_url

    def endpoint_of(self, endpoint: WebSocketEndpoint) -> str:
        """The management URL of a WebSocket API (what the lab copies by hand)."""
        ws = self._definition.websocket_api
        stage = ws.stage if ws else "production"
        return f"{self._base_url.rstrip('/')}/{stage}"

    def connection_manager(
        self, endpoint_url: str | None, connections: ConnectionDirectory | None
    ) -> ConnectionDirectory:
        """``connections`` when ``endpoint_url`` names this management API; Forbidden else."""
        ws = self._definition.websocket_api
        if ws is None or connections is None:
            raise Forbidden("This system has no WebSocket API to manage connections of.")
        expected = self.endpoint_of(WebSocketEndpoint(ws.name))
        if (endpoint_url or "").rstrip("/") != expected:
            raise Forbidden(
                f"endpoint_url {endpoint_url!r} is not the management endpoint of {ws.name} "
                f"({expected}); pass os.environ['APIGW_ENDPOINT'] as the lab does."
            )
        return connections
