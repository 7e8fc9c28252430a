"""pizzabus's own HTTP API under ``/_pizzabus/``: what happened, and the controls the CLI uses
(dead letters, replays, injected faults). Each runtime implements
:class:`~pizzabus.contracts.Operations`.
"""

from __future__ import annotations

import inspect
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pizzabus.contracts.operations import Operations
from pizzabus.errors import PizzabusError, ValidationError


async def _settled(answer: Any) -> Any:
    """An operation's answer: as it is, or awaited (a runtime whose answers come from the
    network answers with awaitables)."""
    return await answer if inspect.isawaitable(answer) else answer


Endpoint = Callable[[Request], Awaitable[Response]]

log = logging.getLogger("pizzabus.admin")


def _endpoint(action: Callable[[Request], Awaitable[Any]]) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        try:
            return JSONResponse(await _settled(await action(request)))
        except PizzabusError as error:
            return JSONResponse(
                {"message": error.message, "code": error.code}, status_code=error.status
            )
        except (OSError, sqlite3.Error) as error:
            # A full or failing disk: say so, and keep serving what can still be read.
            log.error("admin %s %s failed: %s", request.method, request.url.path, error)
            return JSONResponse(
                {
                    "message": f"The server's storage failed ({error}): this cannot be done "
                    "now. Reading (stats, dead letters) still works; free the disk and restart "
                    "the server.",
                    "code": "StorageUnavailable",
                },
                status_code=503,
            )

    return endpoint


async def _json(request: Request) -> Any:
    body = await request.body()
    if not body:
        return {}
    try:
        return json.loads(body)
    except ValueError as error:
        raise ValidationError(f"The body is not valid JSON: {error}") from error


def admin_routes(ops: Operations) -> list[Route]:
    async def stats(request: Request) -> Any:
        return ops.stats()

    async def letters(request: Request) -> Any:
        return {"DeadLetters": await _settled(ops.dead_letters())}

    async def letter(request: Request) -> Any:
        return ops.dead_letter(request.path_params["letter_id"])

    async def redrive(request: Request) -> Any:
        body = await _json(request)
        ids = None if body.get("all") else list(body.get("ids") or [])
        return await ops.redrive(ids)

    async def purge(request: Request) -> Any:
        return ops.purge()

    async def replays(request: Request) -> Any:
        if request.method == "POST":
            return ops.start_replay(await _json(request))
        return {"Replays": await _settled(ops.replays())}

    async def replay(request: Request) -> Any:
        return ops.replay(request.path_params["name"])

    async def cancel(request: Request) -> Any:
        return ops.cancel_replay(request.path_params["name"])

    async def faults(request: Request) -> Any:
        if request.method == "PUT":
            return ops.set_faults(await _json(request))
        return ops.faults()

    return [
        Route("/_pizzabus/stats", _endpoint(stats), methods=["GET"]),
        Route("/_pizzabus/dlq", _endpoint(letters), methods=["GET"]),
        Route("/_pizzabus/dlq", _endpoint(purge), methods=["DELETE"]),
        Route("/_pizzabus/dlq/redrive", _endpoint(redrive), methods=["POST"]),
        Route("/_pizzabus/dlq/{letter_id}", _endpoint(letter), methods=["GET"]),
        Route("/_pizzabus/replays", _endpoint(replays), methods=["GET", "POST"]),
        Route("/_pizzabus/replays/{name}", _endpoint(replay), methods=["GET"]),
        Route("/_pizzabus/replays/{name}/cancel", _endpoint(cancel), methods=["POST"]),
        Route("/_pizzabus/faults", _endpoint(faults), methods=["GET", "PUT"]),
    ]
