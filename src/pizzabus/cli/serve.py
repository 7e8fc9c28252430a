"""``pizzabus serve``: the whole system on one machine."""

from __future__ import annotations

import contextlib
import errno
import functools
import gc
import ipaddress
import logging
import os
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, ParamSpec

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
from pizzabus.bus.delivery import DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_WAITING_RETRY
from pizzabus.cli.data_lock import DataDirLock, lock_data_dir
from pizzabus.cli.native_memory import tune_process_memory
from pizzabus.cli.runtime_options import environment_idle_ttl_option, replicas_option, system_option
from pizzabus.cli.watching import no_traces_option, quiet_option
from pizzabus.compose import Distribution, open_runtime
from pizzabus.contracts.runtime import Runtime
from pizzabus.embedded import Settings
from pizzabus.errors import PizzabusError
from pizzabus.functions.faults import FaultPlan
from pizzabus.gateway.limits import HttpLimits, limited_protocol
from pizzabus.gateway.socketlimits import MAX_FRAME_BYTES, MAX_MESSAGE_BYTES, SocketLimits
from pizzabus.system import SystemDefinition
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


def _start_process(log_level: str) -> None:
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Before any thread starts: see native_memory for why.
    tune_process_memory()


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
    "--tables",
    "tables_dsn",
    envvar="PIZZABUS_TABLES",
    default=None,
    metavar="postgresql://USER@HOST:PORT/DB",
    help="Keep the tables in this PostgreSQL database instead (also PIZZABUS_TABLES); "
    "add ?schema=NAME for a schema other than public. With --nats: the tables the workers "
    "share.",
)
@system_option(
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
@quiet_option
@no_traces_option
@click.option(
    "--reload/--no-reload",
    default=True,
    show_default=True,
    help="Reload a function's code when a file in its code folder is saved.",
)
@click.option(
    "--nats",
    "nats_url",
    default=None,
    envvar="PIZZABUS_NATS",
    help="Serve as a gateway node of a distributed system on this NATS server (see "
    "`pizzabus worker`); the functions then run on workers.",
)
@replicas_option(when="With --nats: ")
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
@environment_idle_ttl_option
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
@_stops_quietly
def serve(
    host: str,
    port: int,
    data_dir: Path,
    memory: bool,
    tables_dsn: str | None,
    system_ref: str,
    max_retry_attempts: int | None,
    max_event_age: str | None,
    faults_file: Path | None,
    max_in_flight: int,
    max_waiting_retries: int,
    isolate: bool,
    quiet: bool,
    no_traces: bool,
    reload: bool,
    nats_url: str | None,
    replicas: int,
    admin_token: str | None,
    max_header_bytes: int,
    header_timeout: float,
    body_timeout: float,
    max_connections: int,
    max_archive_bytes: int | None,
    environment_idle_ttl: float,
    ws_idle_timeout: float,
    ws_max_age: float,
    ws_send_timeout: float,
    ws_outbox_bytes: int,
    ws_total_outbox_bytes: int,
    ws_connections_per_second: float,
    log_level: str,
) -> None:
    """Serve the web client, the HTTP API and the WebSocket API of the system."""
    _start_process(log_level)
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
        token = resolve_admin_token(admin_token)
    except PizzabusError as error:
        raise click.ClickException(error.message) from error
    if nats_url:
        _check_broker(nats_url)
    sock = bind(host, port)
    actual_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    base_url = f"http://{shown_host}:{actual_port}"
    # Held while this function runs, i.e. as long as the server does.
    data_lock = None if memory else _lock(data_dir, sock, base_url)
    settings = Settings(
        data_dir=None if memory else data_dir,
        # With --nats the workers hold the tables; the gateway keeps none.
        tables=None if nats_url else (tables_dsn or None),
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
        invocation_logs=not quiet,
        tracing=not no_traces,
        reload=reload,
        admin_token=token,
        max_archive_bytes=max_archive_bytes,
        environment_idle_ttl=environment_idle_ttl,
    )
    try:
        runtime = open_runtime(
            definition,
            settings,
            Distribution(
                nats_url,
                tables_dsn or "(on the workers)",
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
    _announce(runtime, base_url, where, token=token, reload=reload and not nats_url)
    if not _is_loopback(host):
        click.secho(exposure_warning(host, actual_port), fg="yellow", err=True)
    sys.stdout.flush()
    _tune_garbage_collector()
    limits = HttpLimits(max_header_bytes, header_timeout, body_timeout, max_connections)
    ws = definition.websocket_api
    server = _Server(
        uvicorn_config(
            runtime.app,
            log_level="warning" if log_level == "info" else log_level,
            limits=limits,
            max_message_bytes=ws.max_message_bytes if ws else MAX_MESSAGE_BYTES,
        ),
        on_stop=lambda: remove_server_record(actual_port, pid=os.getpid()),
    )
    _run_until_stopped(server, sock, data_lock)


def _run_until_stopped(server: _Server, sock: socket.socket, data_lock: DataDirLock | None) -> None:
    try:
        server.run(sockets=[sock])
    finally:
        if data_lock is not None:
            data_lock.release()
    if server.interrupted:
        # uvicorn raises the SIGINT again once stopped, which ends in KeyboardInterrupt; not
        # when this process inherited SIGINT ignored (started in the background by a script),
        # where it returns: stop the same way, so :func:`_stops_quietly` says it, as ever.
        raise KeyboardInterrupt


def _lock(data_dir: Path, sock: socket.socket, base_url: str) -> DataDirLock:
    try:
        lock = lock_data_dir(data_dir)
        lock.describe(base_url)
    except click.ClickException:
        sock.close()
        raise
    except OSError as error:
        sock.close()
        raise click.ClickException(data_dir_problem(data_dir, error)) from error
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
        #: Whether Ctrl+C (SIGINT) stopped it.
        self.interrupted = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.interrupted = self.interrupted or sig == signal.SIGINT
        super().handle_exit(sig, frame)

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


def uvicorn_config(
    app: Any,
    *,
    log_level: str,
    limits: HttpLimits | None = None,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
) -> uvicorn.Config:
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


def _announce(
    runtime: Runtime, base_url: str, token_where: str, *, token: str, reload: bool
) -> None:
    console = Console(stderr=False, highlight=False)
    definition = runtime.definition
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
    console.print(f"  tables         {runtime.describe_tables()}")
    console.print(f"  retries        {describe_retry_policies(definition)}")
    if uses_default_retry_policy(definition):
        console.print(
            "                 (AWS default; --max-retry-attempts/--max-event-age shorten it)"
        )
    console.print(f"  stats          {base_url}/_pizzabus/stats")
    console.print(
        f'  AWS APIs       {base_url} (DynamoDB, EventBridge, Lambda, SQS): eval "$(pizzabus env)"',
        soft_wrap=True,
    )
    console.print(f"  admin token    {token_where}", soft_wrap=True)
    console.print(f"  metrics        {base_url}/metrics")
    console.print(f"  console        {base_url}/_pizzabus/?token={token}", soft_wrap=True)
    if reload:
        console.print("  reload         on: saved handlers take effect on the next invocation")
    console.print("Press Ctrl+C to stop.")
