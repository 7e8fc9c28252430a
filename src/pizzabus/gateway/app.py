"""The ASGI application of the gateway: HTTP API, WebSocket API, management API, web client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

#: Where the WebSocket API is served.
WEBSOCKET_PATH = "/ws"

Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


class Gateway:
    """The gateway's ASGI application: the WebSocket API's sockets go straight to their
    endpoint, everything else through Starlette.

    Every order opens a socket, and Starlette would pass it, and wrap each of its frames, through
    layers with nothing to do for a WebSocket (CORS and error pages are HTTP's) and a router
    that tries every route first.
    """

    def __init__(self, app: ASGIApp, websocket_path: str, websocket: ASGIApp | None) -> None:
        self.starlette = app
        self._websocket_path = websocket_path
        self._websocket = websocket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self._websocket is not None
            and scope["type"] == "websocket"
            and scope["path"] == self._websocket_path
        ):
            await self._websocket(scope, receive, send)
        else:
            await self.starlette(scope, receive, send)


def build_app(
    *,
    api_routes: list[BaseRoute],
    websocket: Any | None,
    management: list[Route],
    admin: list[Route],
    cors: Any | None,
    lifespan: Lifespan,
    web_client: Path | None = None,
    observe: list[BaseRoute] | None = None,
    wrap_http: Callable[[ASGIApp], ASGIApp] | None = None,
) -> Gateway:
    """Compose the gateway's pieces into one ASGI application.

    ``observe``: ``/metrics``, the traces and the console; ``wrap_http`` wraps what serves
    HTTP (request tracing)."""
    routes: list[BaseRoute] = [*admin, *(observe or []), *api_routes, *management]
    if web_client is not None:
        index_file = web_client / "index.html"

        async def index(request: Request) -> Response:
            return FileResponse(index_file, headers={"Cache-Control": "no-cache"})

        routes.insert(0, Route("/", index, methods=["GET"]))
        routes.append(Mount("/static", StaticFiles(directory=web_client), name="static"))
    middleware = []
    if cors is not None:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors.allow_origins),
                allow_methods=list(cors.allow_methods),
                allow_headers=list(cors.allow_headers),
            )
        )
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    return Gateway(app if wrap_http is None else wrap_http(app), WEBSOCKET_PATH, websocket)


@asynccontextmanager
async def no_lifespan(app: Starlette) -> AsyncIterator[None]:
    yield
