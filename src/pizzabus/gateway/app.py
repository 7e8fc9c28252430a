"""The ASGI application of the gateway: HTTP API, WebSocket API, management API, web client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from pizzabus.gateway.guard import ADMIN_PREFIX, ControlGuard, json_refusal

#: Where the WebSocket API is served.
WEBSOCKET_PATH = "/ws"

Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


class AwsApiApp(Protocol):
    """AWS's own APIs on the gateway's port (``pizzabus.awsapi``): an ASGI app that says which
    requests are AWS API calls (an AWS target or signature), so the rest reach the gateway."""

    def service_of(self, scope: Scope) -> str | None: ...

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


class Gateway:
    """The gateway's ASGI application: the WebSocket API's sockets go straight to their
    endpoint, everything else through Starlette.

    Every order opens a socket, and Starlette would pass it, and wrap each of its frames, through
    layers with nothing to do for a WebSocket (CORS and error pages are HTTP's) and a router
    that tries every route first.
    """

    def __init__(
        self,
        app: ASGIApp,
        websocket_path: str,
        websocket: ASGIApp | None,
        *,
        api_routes: list[BaseRoute] | None = None,
        cors: ASGIApp | None = None,
        guard: ControlGuard | None = None,
        aws: AwsApiApp | None = None,
    ) -> None:
        self.starlette = app
        self._websocket_path = websocket_path
        self._websocket = websocket
        # (path regex, methods) of the HTTP API's routes: matched directly, as Route.matches
        # would cost several microseconds on every request.
        self._api_paths = [
            (route.path_regex, route.methods)
            for route in api_routes or []
            if isinstance(route, Route)
        ]
        self._cors = cors
        self._guard = guard
        self._aws = aws

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            if self._websocket is not None and scope["path"] == self._websocket_path:
                await self._websocket(scope, receive, send)
                return
            if (
                self._guard is not None
                and scope["path"].startswith(ADMIN_PREFIX)
                and _refusal(self._guard, scope) is not None
            ):
                # A console's live socket: refused before the handshake (the client sees 403).
                await send({"type": "websocket.close", "code": 1008})
                return
        elif scope["type"] == "http":
            if self._aws is not None and self._aws.service_of(scope) is not None:
                await self._aws(scope, receive, send)
                return
            path: str = scope["path"]
            # The control routes (admin, console, @connections) never answer cross-origin
            # requests, and check Host; only the HTTP API's own routes get the definition's CORS.
            if path.startswith(ADMIN_PREFIX) or "/@connections/" in path:
                if self._guard is not None and not await _admitted(self._guard, scope, send):
                    return
            elif self._cors is not None and self._is_api(scope):
                await self._cors(scope, receive, send)
                return
        await self.starlette(scope, receive, send)

    def _is_api(self, scope: Scope) -> bool:
        path: str = scope["path"]
        method: str = scope["method"]
        for regex, methods in self._api_paths:
            if regex.match(path) and (methods is None or method in methods or method == "OPTIONS"):
                return True
        return False


def build_app(
    *,
    api_routes: list[BaseRoute],
    websocket: Any | None,
    management: list[Route],
    admin: list[Route],
    cors: Any | None,
    lifespan: Lifespan,
    web_client: Path | None = None,
    guard: ControlGuard | None = None,
    aws: AwsApiApp | None = None,
    observe: list[BaseRoute] | None = None,
    wrap_http: Callable[[ASGIApp], ASGIApp] | None = None,
) -> Gateway:
    """Compose the gateway's pieces into one ASGI application.

    ``observe``: ``/metrics``, the traces and the console; ``wrap_http`` wraps what serves
    HTTP (request tracing), under the guard and the CORS of the HTTP API."""
    routes: list[BaseRoute] = [*admin, *(observe or []), *api_routes, *management]
    if web_client is not None:
        index_file = web_client / "index.html"

        async def index(request: Request) -> Response:
            return FileResponse(index_file, headers={"Cache-Control": "no-cache"})

        routes.insert(0, Route("/", index, methods=["GET"]))
        routes.append(Mount("/static", StaticFiles(directory=web_client), name="static"))
    app: ASGIApp = Starlette(routes=routes, lifespan=lifespan)
    if wrap_http is not None:
        app = wrap_http(app)
    cors_app = (
        CORSMiddleware(
            app,
            allow_origins=list(cors.allow_origins),
            allow_methods=list(cors.allow_methods),
            allow_headers=list(cors.allow_headers),
        )
        if cors is not None
        else None
    )
    return Gateway(
        app,
        WEBSOCKET_PATH,
        websocket,
        api_routes=api_routes,
        cors=cors_app,
        guard=guard,
        aws=aws,
    )


def _refusal(guard: ControlGuard, scope: Scope) -> tuple[int, dict[str, str]] | None:
    refusal = guard.host_refusal(scope)
    if refusal is None and scope["path"].startswith(ADMIN_PREFIX):
        refusal = guard.token_refusal(scope)
    return refusal


async def _admitted(guard: ControlGuard, scope: Scope, send: Send) -> bool:
    refusal = _refusal(guard, scope)
    if refusal is None:
        return True
    start, body = json_refusal(*refusal)
    await send(start)
    await send({"type": "http.response.body", "body": body})
    return False


@asynccontextmanager
async def no_lifespan(app: Starlette) -> AsyncIterator[None]:
    yield
