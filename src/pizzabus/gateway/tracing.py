"""Every HTTP request gets an X-Ray trace id, as API Gateway gives one.

The request's ``X-Amzn-Trace-Id`` is kept when it has a valid ``Root`` (a caller already
tracing), otherwise a new trace starts; either way the response carries the header back, and
what the request does (a PutEvents, a Lambda integration) runs in that trace
(:data:`pizzabus.telemetry.traceid.current`). Requests to the HTTP API's routes are recorded as
spans and counted by route and status; the rest (the web client, ``/_pizzabus/``) only get the
header.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pizzabus.telemetry import Recorder, traceid

_HEADER = traceid.HTTP_HEADER.lower().encode()


class RequestTracing:
    """ASGI middleware: trace ids for HTTP requests; spans and counts for the API's routes."""

    def __init__(
        self,
        app: ASGIApp,
        telemetry: Recorder,
        api: str,
        routes: Sequence[tuple[str, str, str]],
    ) -> None:
        """``routes``: (method, path template, route key) of each route of the HTTP API."""
        self.app = app
        self.telemetry = telemetry
        self.api = api
        self._exact = {(m, p): key for m, p, key in routes if "{" not in p}
        self._templated = [(m, compile_path(p)[0], key) for m, p, key in routes if "{" in p]

    def _route(self, method: str, path: str) -> str | None:
        key = self._exact.get((method, path))
        if key is None:
            for route_method, pattern, route_key in self._templated:
                if route_method == method and pattern.match(path):
                    return route_key
        return key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, clock = time.time(), time.perf_counter()
        incoming = next((v for k, v in scope["headers"] if k == _HEADER), None)
        parsed = traceid.parse(incoming.decode("latin-1")) if incoming else None
        if parsed is not None and parsed[0]:
            (root, parent), sampled = parsed, True  # the caller traces this journey
        else:
            # A new journey, sampled as X-Ray samples (unless the caller said Sampled=0).
            root, parent = traceid.new_trace_id(started), None
            sampled = parsed is None and self.telemetry.sample()
        span_id = traceid.new_span_id()
        returned = f"Root={root};Parent={span_id};Sampled={int(sampled)}"
        status = 500

        async def send_with_trace(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"x-amzn-trace-id", returned.encode()),
                ]
            await send(message)

        token = traceid.current.set((root, span_id) if sampled else traceid.UNSAMPLED)
        try:
            await self.app(scope, receive, send_with_trace)
        finally:
            traceid.current.reset(token)
            route = self._route(scope["method"], scope["path"])
            if route is not None:
                self.telemetry.request(
                    self.api,
                    route,
                    status,
                    (root if sampled else "", span_id, parent),
                    started,
                    time.perf_counter() - clock,
                )
