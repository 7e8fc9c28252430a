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
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


def build_app(
    *,
    api_routes: list[BaseRoute],
    websocket: Any | None,
    management: list[Route],
    admin: list[Route],
    cors: Any | None,
    lifespan: Lifespan,
    web_client: Path | None = None,
) -> Starlette:
    """Compose the gateway's pieces into one Starlette application."""
    routes: list[BaseRoute] = [*admin, *api_routes, *management]
    if web_client is not None:
        index_file = web_client / "index.html"

        async def index(request: Request) -> Response:
            return FileResponse(index_file, headers={"Cache-Control": "no-cache"})

        routes.insert(0, Route("/", index, methods=["GET"]))
        routes.append(Mount("/static", StaticFiles(directory=web_client), name="static"))
    if websocket is not None:
        routes.append(WebSocketRoute("/ws", websocket))
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
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


@asynccontextmanager
async def no_lifespan(app: Starlette) -> AsyncIterator[None]:
    yield
