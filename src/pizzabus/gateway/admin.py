"""pizzabus's own HTTP API under ``/_pizzabus/``: what happened, and the controls the CLI uses
(dead letters, retries waiting, replays, injected faults). Each runtime implements
:class:`~pizzabus.contracts.Operations`.
"""

from __future__ import annotations

import inspect
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pizzabus.bus.eventjson import loads_strict
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


async def _json(request: Request) -> dict[str, Any]:
    """The body as a JSON object (an empty body is ``{}``); anything else is a 400."""
    body = await request.body()
    if not body:
        return {}
    try:
        document = loads_strict(body.decode())
    except UnicodeDecodeError as error:
        raise ValidationError(f"The body is not UTF-8: {error}") from error
    except ValueError as error:
        raise ValidationError(f"The body is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise ValidationError(
            f"The body must be a JSON object, not {type(document).__name__}; "
            'e.g. {"ids": ["dl-1"]} or {"all": true}'
        )
    return document


def _chosen_ids(body: dict[str, Any]) -> list[str] | None:
    """``{"all": true}`` (None: every one) or ``{"ids": [...]}``, checked."""
    everything, ids = body.get("all", False), body.get("ids") or []
    if not isinstance(everything, bool):
        raise ValidationError(f'"all" must be true or false, not {everything!r}')
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValidationError('"ids" must be a list of ids, e.g. ["dl-1", "dl-2"]')
    return None if everything else ids


def admin_routes(ops: Operations) -> list[Route]:
    async def stats(request: Request) -> Any:
        return ops.stats()

    async def letters(request: Request) -> Any:
        return {"DeadLetters": await _settled(ops.dead_letters())}

    async def letter(request: Request) -> Any:
        return ops.dead_letter(request.path_params["letter_id"])

    async def redrive(request: Request) -> Any:
        return await ops.redrive(_chosen_ids(await _json(request)))

    async def purge(request: Request) -> Any:
        return ops.purge()

    async def retries(request: Request) -> Any:
        return {"Retries": await _settled(ops.retries())}

    async def cancel_retries(request: Request) -> Any:
        return await _settled(ops.cancel_retries(_chosen_ids(await _json(request))))

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
        Route("/_pizzabus/retries", _endpoint(retries), methods=["GET"]),
        Route("/_pizzabus/retries/cancel", _endpoint(cancel_retries), methods=["POST"]),
        Route("/_pizzabus/replays", _endpoint(replays), methods=["GET", "POST"]),
        Route("/_pizzabus/replays/{name}", _endpoint(replay), methods=["GET"]),
        Route("/_pizzabus/replays/{name}/cancel", _endpoint(cancel), methods=["POST"]),
        Route("/_pizzabus/faults", _endpoint(faults), methods=["GET", "PUT"]),
    ]
