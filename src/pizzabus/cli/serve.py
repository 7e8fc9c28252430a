"""``pizzabus serve``: the whole system on one machine."""

from __future__ import annotations

import contextlib
import errno
import gc
import importlib
import ipaddress
import logging
import os
import socket
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import uvicorn
from rich.console import Console

from pizzabus.access import (
    ADMIN_TOKEN_ENV,
    ServerRecord,
    remove_server_record,
    resolve_admin_token,
    write_server_record,
)
from pizzabus.bus.delivery import DEFAULT_MAX_IN_FLIGHT
from pizzabus.compose import Distribution, open_runtime
from pizzabus.contracts.runtime import Runtime
from pizzabus.embedded import Settings
from pizzabus.errors import PizzabusError
from pizzabus.functions.faults import FaultPlan
from pizzabus.gateway.limits import HttpLimits, limited_protocol
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
    "--isolate",
    is_flag=True,
    help="Run every invocation on its environment's own thread, never inline on the server's "
    "loop (slower; a handler that blocks then never stalls the server).",
)
@click.option(
    "--nats",
    "nats_url",
    default=None,
    envvar="PIZZABUS_NATS",
    help="Serve as a gateway node of a distributed system on this NATS server (see "
    "`pizzabus worker`); the functions then run on workers.",
)
@click.option(
    "--tables",
    "tables_url",
    default=None,
    envvar="PIZZABUS_TABLES",
    help="With --nats: the tables the workers share (postgresql://…).",
)
@click.option(
    "--replicas",
    type=click.IntRange(1, 5),
    default=1,
    show_default=True,
    help="With --nats: copies JetStream keeps of each stream (3 on a 3-node NATS cluster).",
)
@click.option(
    "--admin-token",
    envvar=ADMIN_TOKEN_ENV,
    default=None,
    help="Token of the admin API and secret of the local SigV4 credentials (access key id "
    f"pizzabus); also from {ADMIN_TOKEN_ENV}. Default: a new random one, which local pizzabus "
    "commands find by themselves.",
)
@click.option(
    "--max-header-bytes",
    type=click.IntRange(1024),
    default=HttpLimits.max_header_bytes,
    show_default=True,
    help="Largest request line and headers (431 beyond).",
)
@click.option(
    "--header-timeout",
    type=click.FloatRange(0.1),
    default=HttpLimits.header_timeout,
    show_default=True,
    help="Seconds a request's headers may take to arrive (408 then).",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(0.1),
    default=HttpLimits.body_timeout,
    show_default=True,
    help="Seconds between two reads of a request body (408 then).",
)
@click.option(
    "--max-connections",
    type=click.IntRange(1),
    default=HttpLimits.max_connections,
    show_default=True,
    help="Open connections (HTTP and WebSocket) before new ones get 503.",
)
@click.option(
    "--max-archive-bytes",
    type=click.IntRange(1),
    default=None,
    help="Keep the archive's events (their payloads) under this many bytes: the oldest go "
    "first, checked every minute. Default: only the retention (a week) bounds it.",
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
    isolate: bool,
    nats_url: str | None,
    tables_url: str | None,
    replicas: int,
    admin_token: str | None,
    max_header_bytes: int,
    header_timeout: float,
    body_timeout: float,
    max_connections: int,
    max_archive_bytes: int | None,
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
        token = resolve_admin_token(admin_token)
    except PizzabusError as error:
        raise click.ClickException(error.message) from error
    if nats_url:
        _check_broker(nats_url)
    sock = bind(host, port)
    actual_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    base_url = f"http://{shown_host}:{actual_port}"
    settings = Settings(
        data_dir=None if memory else data_dir,
        base_url=base_url,
        faults=faults,
        max_in_flight=max_in_flight,
        inline=not isolate,
        admin_token=token,
        max_archive_bytes=max_archive_bytes,
    )
    try:
        runtime = open_runtime(
            definition,
            settings,
            Distribution(
                nats_url,
                tables_url or "(on the workers)",
                replicas=replicas,
                max_backlog=max_in_flight,
            )
            if nats_url
            else None,
        )
    except PizzabusError as error:
        sock.close()
        raise click.ClickException(error.message) from error
    except (OSError, sqlite3.Error) as error:
        sock.close()
        raise click.ClickException(data_dir_problem(data_dir, error)) from error
    record = ServerRecord(
        url=base_url,
        host=host,
        port=actual_port,
        pid=os.getpid(),
        admin_token=token,
        data_dir=None if memory else str(data_dir.resolve()),
        started_at=time.time(),
    )
    try:
        where = f"in {write_server_record(record)} (pizzabus commands find it; or --token)"
    except (OSError, PizzabusError) as error:
        # Without a record, the token must be shown, or nobody could use the admin API.
        reason = error.message if isinstance(error, PizzabusError) else str(error)
        where = f"{token} (the server record could not be written: {reason})"
    _announce(runtime, base_url, where)
    if not _is_loopback(host):
        click.secho(exposure_warning(host, actual_port), fg="yellow", err=True)
    sys.stdout.flush()
    _tune_garbage_collector()
    limits = HttpLimits(max_header_bytes, header_timeout, body_timeout, max_connections)
    server = _Server(
        uvicorn_config(
            runtime.app,
            log_level="warning" if log_level == "info" else log_level,
            limits=limits,
        ),
        on_stop=lambda: remove_server_record(actual_port, pid=os.getpid()),
    )
    server.run(sockets=[sock])


def _check_broker(url: str) -> None:
    """Fail at once, in one line, when the broker of a gateway node is unreachable."""
    import asyncio

    from pizzabus.distributed.broker import probe

    try:
        asyncio.run(probe(url))
    except PizzabusError as error:
        raise click.ClickException(error.message) from error


class _Server(uvicorn.Server):
    """uvicorn's server, running ``on_stop`` once it has stopped serving: before it re-raises
    the signal that stopped it (which ends the process at once)."""

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_stop = on_stop

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                self._on_stop()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, port: int) -> str:
    """What a non-loopback ``--host`` exposes, and to whom."""
    return (
        f"WARNING: --host {host} makes this server reachable from other machines on port "
        f"{port}: the HTTP API and WebSocket API (anyone who reaches the port can place "
        "orders and open sockets) and the web client, with no credentials, as on AWS; the admin "
        "API (/_pizzabus/) and @connections need the admin token (or SigV4 with it). Serve on "
        "127.0.0.1 (the default) unless other machines must reach it, and keep the token secret."
    )


def data_dir_problem(data_dir: Path, error: BaseException) -> str:
    """One line saying why ``data_dir`` cannot be used and what to do."""
    number = getattr(error, "errno", None)
    sqlite_error = getattr(error, "sqlite_errorname", "")
    if number in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or sqlite_error == "SQLITE_FULL":
        return (
            f"the disk holding the data directory {data_dir} is full; free some space, or pass "
            "--data-dir on another disk (or --memory to keep nothing on disk)"
        )
    if sqlite_error.startswith("SQLITE_IOERR"):
        return (
            f"cannot write in the data directory {data_dir} ({error}): is its disk full or "
            "failing? Free some space, or pass --data-dir on another disk (or --memory)"
        )
    if number in (errno.EACCES, errno.EPERM, errno.EROFS) or sqlite_error.startswith(
        ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")
    ):
        return (
            f"the data directory {data_dir} is not writable ({error}); fix its permissions, or "
            "pass --data-dir to a directory you can write (or --memory)"
        )
    return (
        f"cannot use the data directory {data_dir} ({error}); pass --data-dir to a writable "
        "directory, or --memory"
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


def uvicorn_config(app: Any, *, log_level: str, limits: HttpLimits | None = None) -> uvicorn.Config:
    """How the gateway's ASGI app is served (the transport benchmark serves its own app the
    same way, so both stand on the same stack)."""
    limits = limits or HttpLimits()
    return uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        # uvloop and httptools when installed (uvicorn[standard] installs both).
        loop="auto",
        # httptools (uvicorn[standard] installs it), enforcing the HTTP limits.
        http=limited_protocol(limits),
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


def _announce(runtime: Runtime, base_url: str, token_where: str) -> None:
    console = Console(stderr=False, highlight=False)
    definition = runtime.definition
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
    console.print(f"  tables         {runtime.describe_tables()}")
    console.print(f"  stats          {base_url}/_pizzabus/stats")
    console.print(
        f'  AWS APIs       {base_url} (DynamoDB, EventBridge, Lambda, SQS): eval "$(pizzabus env)"',
        soft_wrap=True,
    )
    console.print(f"  admin token    {token_where}", soft_wrap=True)
    console.print("Press Ctrl+C to stop.")
