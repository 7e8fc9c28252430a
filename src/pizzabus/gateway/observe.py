"""What the gateway serves to watch the system: ``/metrics``, the traces, the console.

``/metrics`` is open: it holds counters only (DESIGN.md §4). The traces and the console show
event details and control the system, so they sit under ``/_pizzabus/`` with the admin API;
the console page takes the admin token once from ``?token=`` and keeps it in an HttpOnly
cookie, as Jupyter does, so the token does not stay in the address bar or reach scripts.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from pizzabus.telemetry import Telemetry
from pizzabus.telemetry.metrics import registry
from pizzabus.telemetry.spans import document

#: The console's page, script and style (no build step).
CONSOLE_ASSETS = Path(__file__).with_name("console")
#: The cookie the console keeps the admin token in.
ADMIN_COOKIE = "pizzabus_admin"


def observe_routes(
    telemetry: Telemetry,
    console_state: Callable[[], dict[str, Any] | Awaitable[dict[str, Any]]],
    *,
    secure_cookie: bool = False,
    metrics_targets: Callable[[], list[dict[str, Any]]] | None = None,
) -> list[BaseRoute]:
    """``/metrics``, ``/_pizzabus/traces…``, ``/_pizzabus/console/state`` and the console;
    with ``metrics_targets`` (a cluster gateway), ``/_pizzabus/metrics/targets`` too: every
    node's ``/metrics`` as Prometheus ``http_sd`` targets."""
    own_registry = registry(telemetry.metrics)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(own_registry), media_type=CONTENT_TYPE_LATEST)

    async def traces(request: Request) -> Response:
        store = telemetry.traces
        if store is None:
            return JSONResponse({"traces": [], "message": "tracing is off"})
        text = request.query_params.get("q")
        limit = _limit(request.query_params.get("limit"))
        if not text:
            return JSONResponse({"traces": store.recent(limit)})
        found = []
        for trace_id in store.search(text, limit):
            spans = store.spans(trace_id)
            if spans:
                found.append(document(trace_id, spans))
        return JSONResponse({"query": text, "traces": found})

    async def trace(request: Request) -> Response:
        trace_id = request.path_params["trace_id"]
        spans = telemetry.traces.spans(trace_id) if telemetry.traces is not None else None
        if not spans:
            return JSONResponse(
                {
                    "message": f"No trace {trace_id}: it was never recorded, or is older than "
                    "the traces kept. GET /_pizzabus/traces lists the recent ones.",
                    "code": "NotFound",
                },
                status_code=404,
            )
        return JSONResponse(document(trace_id, spans))

    async def state(request: Request) -> Response:
        document = console_state()
        if inspect.isawaitable(document):  # a cluster gateway reads the broker for it
            document = await document
        return JSONResponse(document)

    async def console(request: Request) -> Response:
        token = request.query_params.get("token")
        if token:
            # Keep the token in a cookie scripts cannot read, and out of the address bar.
            response: Response = RedirectResponse("/_pizzabus/", status_code=303)
            response.set_cookie(
                ADMIN_COOKIE,
                token,
                httponly=True,
                samesite="strict",
                secure=secure_cookie,
                path="/",
            )
            return response
        return FileResponse(CONSOLE_ASSETS / "index.html", headers={"Cache-Control": "no-cache"})

    async def targets(request: Request) -> Response:
        assert metrics_targets is not None
        return JSONResponse(metrics_targets())

    extra = (
        [Route("/_pizzabus/metrics/targets", targets, methods=["GET"])]
        if metrics_targets is not None
        else []
    )
    return [
        *extra,
        Route("/metrics", metrics, methods=["GET"]),
        Route("/_pizzabus/traces", traces, methods=["GET"]),
        Route("/_pizzabus/traces/{trace_id}", trace, methods=["GET"]),
        Route("/_pizzabus/console/state", state, methods=["GET"]),
        Route("/_pizzabus/", console, methods=["GET"]),
        Mount(
            "/_pizzabus/console/static",
            StaticFiles(directory=CONSOLE_ASSETS),
            name="console",
        ),
    ]


def _limit(value: str | None) -> int:
    if value is None or not value.isdigit():
        return 50
    return max(1, min(int(value), 1_000))
