"""The HTTP API: each route of the definition, with its integration.

- ``PutEventsIntegration``: the body becomes the ``Detail`` of one PutEvents entry; the answer
  is the PutEvents result, as API Gateway's EventBridge integration answers.
- ``LambdaIntegration``: payload format 2.0 in, the function's response out.

Before anything is published, a body must be within the size limit, be JSON, and satisfy the
route's ``request_schema``; otherwise the answer is a 4xx ``{"message": …}`` saying what was
wrong and how to fix it.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pizzabus.bus.eventjson import JsonRefused, loads_strict
from pizzabus.contracts.identity import RuntimeIdentity
from pizzabus.contracts.invoker import Invoke
from pizzabus.contracts.publisher import Publisher
from pizzabus.errors import PizzabusError
from pizzabus.functions.errors import FunctionError
from pizzabus.gateway.events import http_event
from pizzabus.system import HttpApi, HttpRoute, LambdaIntegration, PutEventsIntegration
from pizzabus.telemetry import traceid

log = logging.getLogger("pizzabus.gateway")


class BadRequest(Exception):
    """A request refused before it reached the integration."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def message(status: int, text: str) -> JSONResponse:
    return JSONResponse({"message": text}, status_code=status)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing it with 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(413, _too_large(int(declared), limit))
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BadRequest(413, _too_large(size, limit, at_least=True))
            chunks.append(chunk)
    except ClientDisconnect as error:
        raise BadRequest(400, "The client went away before sending the whole body.") from error
    return b"".join(chunks)


def _too_large(size: int, limit: int, at_least: bool = False) -> str:
    return (
        f"The request body is {'more than ' if at_least else ''}{size} bytes; this API accepts "
        f"at most {limit} bytes. Send a smaller body."
    )


class _BodyChecker:
    """JSON parsing and the route's JSON Schema, with messages a person can act on."""

    def __init__(self, route: HttpRoute) -> None:
        self.validator = (
            Draft202012Validator(route.request_schema) if route.request_schema else None
        )
        self.example = json.dumps(route.example) if route.example else None

    def check(self, body: bytes) -> str:
        """The body as text, once it is known to be acceptable."""
        hint = f" For example: {self.example}" if self.example else ""
        if not body.strip():
            raise BadRequest(400, f"The request body is empty; send a JSON object.{hint}")
        try:
            # As json.loads reads bytes; strictly (see bus.eventjson: what every stage after
            # this one can process).
            text = body.decode(json.detect_encoding(body))
            document = loads_strict(text)
        except JsonRefused as error:
            raise BadRequest(400, f"The request body is refused: {error}.{hint}") from error
        except (ValueError, UnicodeDecodeError) as error:
            raise BadRequest(400, f"The request body is not valid JSON ({error}).{hint}") from error
        if not isinstance(document, dict):
            raise BadRequest(
                400,
                f"The request body must be a JSON object, not {_json_type(document)}.{hint}",
            )
        if self.validator is not None:
            first = min(self.validator.iter_errors(document), key=_error_order, default=None)
            if first is not None:
                raise BadRequest(400, f"{_describe(first)}.{hint}")
        return text


def _error_order(error: SchemaError) -> tuple[int, str]:
    return (len(error.absolute_path), str(list(error.absolute_path)))


def _describe(error: SchemaError) -> str:
    where = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        field = f"{where}.{missing}" if where else missing
        return f"The body has no {field!r}; it is required"
    if error.validator == "const":
        expected, got = json.dumps(error.validator_value), json.dumps(error.instance)
        return f"{where!r} must be {expected}, not {got}"
    if error.validator == "type":
        return (
            f"{where or 'the body'!r} must be a JSON {error.validator_value}, "
            f"not {_json_type(error.instance)}"
        )
    return f"{where or 'the body'!r} is not valid: {error.message}"


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def build_routes(
    api: HttpApi,
    *,
    router: Publisher,
    invoke: Invoke,
    identity: RuntimeIdentity,
    api_id: str,
) -> list[Route]:
    """Starlette routes for every route of the HTTP API."""
    routes: list[Route] = []
    for route in api.routes:
        limit = min(route.max_body_bytes or api.max_body_bytes, api.max_body_bytes)
        if isinstance(route.integration, PutEventsIntegration):
            endpoint = _put_events_endpoint(route, route.integration, router, limit)
        else:
            endpoint = _lambda_endpoint(route, route.integration, invoke, identity, api_id, limit)
        routes.append(Route(route.path, endpoint, methods=[route.method]))
    return routes


def _put_events_endpoint(
    route: HttpRoute, integration: PutEventsIntegration, router: Publisher, limit: int
) -> Callable[[Request], Awaitable[Response]]:
    checker = _BodyChecker(route)

    async def endpoint(request: Request) -> Response:
        try:
            body = await read_body(request, limit)
            detail = checker.check(body)
        except BadRequest as refused:
            return message(refused.status, refused.message)
        entry = {
            "Source": integration.source,
            "DetailType": integration.detail_type,
            "Detail": detail,
            "EventBusName": integration.bus,
        }
        trace = traceid.current.get()  # the request's (gateway/tracing.py)
        if trace is not None:
            entry["TraceHeader"] = traceid.header(*trace)
        try:
            result = await router.put_events_async([entry])
        except PizzabusError as error:
            return message(error.status, error.message)
        return JSONResponse(result)

    return endpoint


def _lambda_endpoint(
    route: HttpRoute,
    integration: LambdaIntegration,
    invoke: Invoke,
    identity: RuntimeIdentity,
    api_id: str,
    limit: int,
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            body = await read_body(request, limit)
        except BadRequest as refused:
            return message(refused.status, refused.message)
        event = http_event(
            route_key=route.route_key,
            method=request.method,
            path=request.url.path,
            raw_query=request.url.query,
            headers=_joined(request.headers.items()),
            path_parameters={k: str(v) for k, v in request.path_params.items()},
            body=body,
            identity=identity,
            api_id=api_id,
            domain=request.headers.get("host", "127.0.0.1"),
            source_ip=request.client.host if request.client else "127.0.0.1",
        )
        try:
            result = await invoke(integration.function, json.dumps(event).encode())
        except FunctionError as error:
            log.warning("%s (%s) failed: %s", route.route_key, integration.function, error)
            return message(500, "Internal Server Error")
        return lambda_response(result)

    return endpoint


def lambda_response(result: Any) -> Response:
    """A payload-2.0 Lambda result as API Gateway turns it into an HTTP response."""
    if not (isinstance(result, Mapping) and "statusCode" in result):
        # Format 2.0 infers a 200 JSON response from anything without a statusCode.
        return JSONResponse(result)
    body = result.get("body") or ""
    content = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    response = Response(content, status_code=int(result["statusCode"]), headers=headers)
    for cookie in result.get("cookies") or ():
        response.headers.append("set-cookie", str(cookie))
    return response


def _joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Request headers as format 2.0 gives them: a repeated header's values comma-joined."""
    headers: dict[str, str] = {}
    for name, value in pairs:
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers
