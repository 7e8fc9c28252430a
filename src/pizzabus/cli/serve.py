"""``pizzabus serve``: the whole system on one machine."""

from __future__ import annotations

import errno
import gc
import importlib
import logging
import socket
import sys
from pathlib import Path
from typing import Any

import click
import uvicorn
from rich.console import Console

from pizzabus.bus.delivery import DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_WAITING_RETRY
from pizzabus.embedded import EmbeddedSystem, Settings
from pizzabus.errors import PizzabusError
from pizzabus.functions.faults import FaultPlan
from pizzabus.gateway.socketlimits import MAX_FRAME_BYTES, MAX_MESSAGE_BYTES, SocketLimits
from pizzabus.system import SystemDefinition

DEFAULT_SYSTEM = "pizzabus.pizza.system:SYSTEM"


def load_definition(reference: str) -> SystemDefinition:
    """Import ``module:attribute`` and check that it is a system definition."""
    module_name, _, attribute = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise click.BadParameter(f"cannot import {module_name!r}: {error}") from error
    definition = getattr(module, attribute or "SYSTEM", None)
    if not isinstance(definition, SystemDefinition):
        raise click.BadParameter(
            f"{reference!r} is not a SystemDefinition; name one as module:attribute"
        )
    return definition


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket first, so the real port (for ``--port 0``) is known before
    the system starts, and a busy port is reported plainly."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} on {host} is already in use; stop what uses it, or pass "
                f"--port (or set PORT) to another port, e.g. --port {port + 1}"
            ) from error
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror}") from error
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    envvar="PORT",
    default=8000,
    show_default=True,
    help="Port to listen on (also from PORT; 0 picks a free one).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".pizzabus"),
    show_default=True,
    help="Where tables are kept (SQLite).",
)
@click.option("--memory", is_flag=True, help="Keep everything in memory (nothing on disk).")
@click.option(
    "--system",
    "system_ref",
    default=DEFAULT_SYSTEM,
    show_default=True,
    help="The system definition to serve, as module:attribute.",
)
@click.option(
    "--faults",
    "faults_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help='Inject faults from a JSON plan, e.g. {"functions": {"cook_pizza": {"error_rate": 0.3}}}.',
)
@click.option(
    "--max-in-flight",
    type=click.IntRange(1),
    default=DEFAULT_MAX_IN_FLIGHT,
    show_default=True,
    help="Deliveries in flight before PutEvents answers ThrottlingException.",
)
@click.option(
    "--max-waiting-retries",
    type=click.IntRange(1),
    default=DEFAULT_MAX_WAITING_RETRY,
    show_default=True,
    help="Deliveries waiting for a retry (they hold no in-flight room) before further "
    "failures are dead-lettered at once.",
)
@click.option(
    "--isolate",
    is_flag=True,
    help="Run every invocation on its environment's own thread, never inline on the server's "
    "loop (slower; a handler that blocks then never stalls the server).",
)
@click.option(
    "--ws-idle-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=SocketLimits.idle_timeout,
    show_default=True,
    help="Seconds without a message before a WebSocket is closed (API Gateway: 600).",
)
@click.option(
    "--ws-max-age",
    type=click.FloatRange(min=0, min_open=True),
    default=SocketLimits.max_age,
    show_default=True,
    help="Seconds after which any WebSocket is closed (API Gateway: 7200).",
)
@click.option(
    "--ws-send-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=SocketLimits.send_timeout,
    show_default=True,
    help="Seconds a send to a client that does not read may stall before the socket is closed.",
)
@click.option(
    "--ws-outbox-bytes",
    type=click.IntRange(1),
    default=SocketLimits.max_outbox_bytes,
    show_default=True,
    help="Bytes waiting for one WebSocket client before posts to it get 429.",
)
@click.option(
    "--ws-total-outbox-bytes",
    type=click.IntRange(1),
    default=SocketLimits.max_total_outbox_bytes,
    show_default=True,
    help="Bytes waiting for all WebSocket clients together before posts get 429.",
)
@click.option(
    "--ws-connections-per-second",
    type=click.FloatRange(min=0, min_open=True),
    default=SocketLimits.connections_per_second,
    show_default=True,
    help="New WebSocket connections per second (bursts of twice as many) before 429.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def serve(
    host: str,
    port: int,
    data_dir: Path,
    memory: bool,
    system_ref: str,
    faults_file: Path | None,
    max_in_flight: int,
    max_waiting_retries: int,
    isolate: bool,
    ws_idle_timeout: float,
    ws_max_age: float,
    ws_send_timeout: float,
    ws_outbox_bytes: int,
    ws_total_outbox_bytes: int,
    ws_connections_per_second: float,
    log_level: str,
) -> None:
    """Serve the web client, the HTTP API and the WebSocket API of the system."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    definition = load_definition(system_ref)
    try:
        faults = (
            FaultPlan.load(faults_file, {f.name for f in definition.functions})
            if faults_file
            else FaultPlan()
        )
    except PizzabusError as error:
        raise click.ClickException(error.message) from error
    sock = bind(host, port)
    actual_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    base_url = f"http://{shown_host}:{actual_port}"
    settings = Settings(
        data_dir=None if memory else data_dir,
        base_url=base_url,
        faults=faults,
        max_in_flight=max_in_flight,
        max_waiting_retry=max_waiting_retries,
        inline=not isolate,
        socket_limits=SocketLimits(
            idle_timeout=ws_idle_timeout,
            max_age=ws_max_age,
            send_timeout=ws_send_timeout,
            max_outbox_bytes=ws_outbox_bytes,
            max_total_outbox_bytes=ws_total_outbox_bytes,
            connections_per_second=ws_connections_per_second,
            connection_burst=max(1, int(ws_connections_per_second * 2)),
        ),
    )
    try:
        system = EmbeddedSystem(definition, settings)
    except PizzabusError as error:
        sock.close()
        raise click.ClickException(error.message) from error
    _announce(system, base_url, settings)
    _tune_garbage_collector()
    ws = definition.websocket_api
    server = uvicorn.Server(
        uvicorn_config(
            system.app,
            log_level="warning" if log_level == "info" else log_level,
            max_message_bytes=ws.max_message_bytes if ws else MAX_MESSAGE_BYTES,
        )
    )
    server.run(sockets=[sock])


def _tune_garbage_collector() -> None:
    """Fewer, cheaper collections for a long-running server.

    What is alive now (modules, the system, its compiled patterns) lives as long as the process:
    frozen, later full collections do not walk it again. A larger first generation means a
    collection every 10,000 new containers rather than every 700, which at ~10,000 objects per
    second otherwise runs a collection every few ms.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def uvicorn_config(
    app: Any, *, log_level: str, max_message_bytes: int = MAX_MESSAGE_BYTES
) -> uvicorn.Config:
    """How the gateway's ASGI app is served (the transport benchmark serves its own app the
    same way, so both stand on the same stack)."""
    return uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        # uvloop and httptools when installed (uvicorn[standard] installs both).
        loop="auto",
        http="auto",
        # The websockets library reads frames and messages against API Gateway's limits (32 KB
        # frames, 128 KB messages) as they arrive, closing with 1009 past either, instead of
        # buffering a whole oversized message first: it takes (message, frame) limits.
        ws="websockets-sansio",
        ws_max_size=(max_message_bytes, MAX_FRAME_BYTES),  # type: ignore[arg-type]
        # Frames here are a few hundred bytes: compressing them saves nothing on loopback or a
        # LAN, and each connection's zlib state would cost ~300 KiB of memory.
        ws_per_message_deflate=False,
        # Longer than clients' pools keep idle connections, so a reused one is not found closed.
        timeout_keep_alive=75,
        timeout_graceful_shutdown=5,
        # No reverse proxy is in front of a local gateway: trusting X-Forwarded-* headers would
        # only let a client spoof its sourceIp, and the middleware runs on every request.
        proxy_headers=False,
    )


def _announce(system: EmbeddedSystem, base_url: str, settings: Settings) -> None:
    console = Console(stderr=False, highlight=False)
    definition = system.definition
    ws_url = base_url.replace("http", "ws", 1) + "/ws"
    console.print(f"[bold]pizzabus[/] serving [cyan]{definition.name}[/] on {base_url}")
    console.print(f"  web client     {base_url}/")
    if definition.http_api:
        for route in definition.http_api.routes:
            console.print(f"  HTTP API       {route.method} {base_url}{route.path}")
    if definition.websocket_api:
        console.print(f"  WebSocket API  {ws_url}?order_id=<order id>")
        console.print(
            f"  connections    {base_url}/{definition.websocket_api.stage}/@connections/<id>"
        )
    where = "memory (--memory)" if settings.data_dir is None else f"{settings.data_dir}/ (SQLite)"
    console.print(f"  tables         {where}")
    console.print(f"  stats          {base_url}/_pizzabus/stats")
    console.print("Press Ctrl+C to stop.")
    sys.stdout.flush()
