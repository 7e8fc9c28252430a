"""``pizzabus serve``: the whole system on one machine."""

from __future__ import annotations

import errno
import functools
import gc
import logging
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec

import click
import uvicorn
from rich.console import Console

from pizzabus.bus.delivery import DEFAULT_MAX_IN_FLIGHT
from pizzabus.cli.data_lock import DataDirLock, lock_data_dir
from pizzabus.embedded import EmbeddedSystem, Settings
from pizzabus.errors import PizzabusError
from pizzabus.functions.faults import FaultPlan
from pizzabus.system import SystemDefinition
from pizzabus.system.loading import DEFAULT_SYSTEM
from pizzabus.system.loading import load_definition as load_system_definition
from pizzabus.system.overrides import (
    describe_retry_policies,
    parse_duration,
    uses_default_retry_policy,
    with_retry_policy,
)

P = ParamSpec("P")


def load_definition(reference: str) -> SystemDefinition:
    """Import ``module:attribute`` from the current directory, as a click error if it fails."""
    try:
        return load_system_definition(reference)
    except PizzabusError as error:
        raise click.BadParameter(error.message, param_hint="'--system'") from error


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


def _stops_quietly(command: Callable[P, None]) -> Callable[P, None]:
    """Ctrl+C is how a server is stopped, not a crash: one line and exit code 0, instead of
    click's "Aborted!" and 1. uvicorn stops gracefully, then raises the interrupt again; one
    that comes while the server starts stops it as well."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except KeyboardInterrupt:
            click.echo("pizzabus stopped.")

    return wrapper


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
    help="The system definition to serve, as module:attribute, imported from the current "
    "directory (e.g. signups.system:SYSTEM run next to signups/).",
)
@click.option(
    "--max-retry-attempts",
    type=click.IntRange(0, 185),
    default=None,
    help="Retries of a failing delivery before it is dead-lettered, for every rule target "
    "[default: each target's own; EventBridge's is 185].",
)
@click.option(
    "--max-event-age",
    default=None,
    metavar="DURATION",
    help="How long a failing delivery is retried (60s to 24h, e.g. 60s, 5m), for every rule "
    "target [default: each target's own; EventBridge's is 24h].",
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
    "--isolate",
    is_flag=True,
    help="Run every invocation on its environment's own thread, never inline on the server's "
    "loop (slower; a handler that blocks then never stalls the server).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@_stops_quietly
def serve(
    host: str,
    port: int,
    data_dir: Path,
    memory: bool,
    system_ref: str,
    max_retry_attempts: int | None,
    max_event_age: str | None,
    faults_file: Path | None,
    max_in_flight: int,
    isolate: bool,
    log_level: str,
) -> None:
    """Serve the web client, the HTTP API and the WebSocket API of the system."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    _refuse_memory_with_data_dir(memory)
    definition = load_definition(system_ref)
    try:
        definition = with_retry_policy(
            definition,
            maximum_retry_attempts=max_retry_attempts,
            maximum_event_age=parse_duration(max_event_age) if max_event_age else None,
        )
    except PizzabusError as error:
        raise click.BadParameter(error.message, param_hint="'--max-event-age'") from error
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
    # Held while this function runs, i.e. as long as the server does.
    data_lock = None if memory else _lock(data_dir, sock, base_url)
    settings = Settings(
        data_dir=None if memory else data_dir,
        base_url=base_url,
        faults=faults,
        max_in_flight=max_in_flight,
        inline=not isolate,
    )
    try:
        system = EmbeddedSystem(definition, settings)
    except PizzabusError as error:
        sock.close()
        raise click.ClickException(error.message) from error
    _announce(system, base_url, settings)
    _tune_garbage_collector()
    server = uvicorn.Server(
        uvicorn_config(system.app, log_level="warning" if log_level == "info" else log_level)
    )
    try:
        server.run(sockets=[sock])
    finally:
        if data_lock is not None:
            data_lock.release()


def _lock(data_dir: Path, sock: socket.socket, base_url: str) -> DataDirLock:
    try:
        lock = lock_data_dir(data_dir)
    except click.ClickException:
        sock.close()
        raise
    lock.describe(base_url)
    return lock


def _refuse_memory_with_data_dir(memory: bool) -> None:
    context = click.get_current_context()
    source = context.get_parameter_source("data_dir")
    if memory and source in (
        click.core.ParameterSource.COMMANDLINE,
        click.core.ParameterSource.ENVIRONMENT,
    ):
        raise click.UsageError(
            "--memory keeps nothing on disk, so --data-dir would be ignored; pass one of them"
        )


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


def uvicorn_config(app: Any, *, log_level: str) -> uvicorn.Config:
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
        # Frames here are a few hundred bytes: compressing them saves nothing on loopback or a
        # LAN, and each connection's zlib state would cost ~300 KiB of memory.
        ws_per_message_deflate=False,
        ws_max_size=16 * 1024 * 1024,
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
    if definition.web_client is not None:
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
    console.print(f"  retries        {describe_retry_policies(definition)}")
    if uses_default_retry_policy(definition):
        console.print(
            "                 (AWS default; --max-retry-attempts/--max-event-age shorten it)"
        )
    console.print(f"  stats          {base_url}/_pizzabus/stats")
    console.print("Press Ctrl+C to stop.")
    sys.stdout.flush()
