"""The transport limit: only the wire work of an order, on pizzabus's own HTTP/WebSocket stack.

The same Starlette + uvicorn server as ``pizzabus serve`` (the same uvicorn settings, from
:func:`pizzabus.cli.serve.uvicorn_config`), doing for each order what a client sees and nothing
else: the WebSocket ``/ws?order_id=ID`` is accepted and remembered, ``POST /`` is answered with
a PutEvents-shaped result, and four frames (the order's ``detail`` at each stage) are pushed to
the order's sockets. No bus, no functions, no tables. What the load generator gets from this
server bounds what any implementation on this stack can do on this machine.

    python -m benchmarks.transport_baseline --port 0     # prints "serving on http://…"
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from pizzabus.cli.serve import bind, uvicorn_config

STAGES = ("make_pizza", "cook_pizza", "deliver_pizza", "delivered")


def build_app() -> Starlette:
    """One POST route and one WebSocket route, with the order's sockets in a dict."""
    sockets: dict[str, set[WebSocket]] = {}

    async def post(request: Request) -> Response:
        detail = json.loads(await request.body())
        order_id = detail["item"]["order_id"]
        # As on pizzabus, the answer goes out first and the stages follow it.
        return JSONResponse(
            {"Entries": [{"EventId": str(uuid.uuid4())}], "FailedEntryCount": 0},
            background=BackgroundTask(push, order_id, detail),
        )

    async def push(order_id: str, detail: dict[str, Any]) -> None:
        followers = sockets.get(order_id, set())
        for stage in STAGES:
            detail["item"]["eventtype"] = stage
            frame = json.dumps(detail)
            for socket in list(followers):
                try:
                    await socket.send_text(frame)
                except (WebSocketDisconnect, RuntimeError, OSError):
                    followers.discard(socket)

    async def websocket(socket: WebSocket) -> None:
        order_id = socket.query_params.get("order_id", "")
        await socket.accept()
        followers = sockets.setdefault(order_id, set())
        followers.add(socket)
        try:
            while True:
                await socket.receive_text()  # the client's {"action": "sync"}: nothing missed
        except WebSocketDisconnect:
            pass
        finally:
            followers.discard(socket)
            if not followers:
                sockets.pop(order_id, None)

    return Starlette(routes=[Route("/", post, methods=["POST"]), WebSocketRoute("/ws", websocket)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    sock = bind(args.host, args.port)
    print(f"serving on http://{args.host}:{sock.getsockname()[1]}", flush=True)
    server = uvicorn.Server(uvicorn_config(build_app(), log_level="warning"))
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
