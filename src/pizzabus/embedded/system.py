"""``EmbeddedSystem``: a system definition, running."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette

from pizzabus.access import ensure_private_dir, ensure_private_file, generate_token
from pizzabus.awsapi import Backends, build_aws_apis
from pizzabus.bus.bus import EventRouter
from pizzabus.bus.delivery import (
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_WAITING_RETRY,
    Backoff,
    Deliverer,
)
from pizzabus.bus.putevents import DEFAULT_MAX_REQUEST_BYTES
from pizzabus.bus.records import Delivery
from pizzabus.bus.replay import Replayer
from pizzabus.bus.sqlite_store import SqliteEventStore
from pizzabus.bus.store import EventStore, MemoryEventStore
from pizzabus.clock import Clock, SystemClock
from pizzabus.contracts.connections import ConnectionDirectory
from pizzabus.contracts.identity import RuntimeIdentity
from pizzabus.embedded.operations import Operations
from pizzabus.embedded.reload import CodeWatcher
from pizzabus.errors import PizzabusError
from pizzabus.functions import logs
from pizzabus.functions.faults import FaultInjector, FaultPlan
from pizzabus.functions.inline import InlinePolicy
from pizzabus.functions.retirement import DEFAULT_IDLE_TTL
from pizzabus.functions.runtime import FunctionRuntime
from pizzabus.gateway.admin import admin_routes
from pizzabus.gateway.app import Gateway, build_app
from pizzabus.gateway.connections import ConnectionRegistry, Forbidden
from pizzabus.gateway.console_state import console_state, process, system_map
from pizzabus.gateway.guard import ControlGuard, allowed_hosts
from pizzabus.gateway.observe import observe_routes
from pizzabus.gateway.socketlimits import SocketLimits
from pizzabus.gateway.tracing import RequestTracing
from pizzabus.gateway.wiring import ManagementEndpoint, api_parts
from pizzabus.sdk.boto3_shim import boto3_module
from pizzabus.system import Function, SystemDefinition, WebSocketEndpoint
from pizzabus.tables.memory import MemoryTableStore
from pizzabus.tables.sqlite import SqliteTableStore
from pizzabus.tables.store import TableStore
from pizzabus.telemetry import Telemetry
from pizzabus.telemetry.invocation_log import InvocationLog
from pizzabus.telemetry.spans import TraceStore

log = logging.getLogger("pizzabus")

#: How often expired items (TTL) are swept from the tables.
TTL_SWEEP_SECONDS = 60.0
#: How often queued invocation log lines are written.
TELEMETRY_TICK_SECONDS = 0.2


@dataclass(frozen=True)
class Settings:
    """How the embedded runtime runs a definition."""

    #: Where tables live; ``None`` keeps everything in memory.
    data_dir: Path | None = Path(".pizzabus")
    #: A PostgreSQL DSN to keep the tables in instead (shared with other processes).
    tables: str | None = None
    #: The base URL the server is reached at (used for ``APIGW_ENDPOINT``).
    base_url: str = "http://127.0.0.1:8000"
    identity: RuntimeIdentity = field(default_factory=RuntimeIdentity)
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    backoff: Backoff = field(default_factory=Backoff)
    default_concurrency: int = 16
    #: Deliveries in flight before PutEvents answers ThrottlingException.
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    #: Deliveries waiting for a retry (outside the in-flight budget) before more failures
    #: are dead-lettered at once.
    max_waiting_retry: int = DEFAULT_MAX_WAITING_RETRY
    #: Faults to inject from the start (they can be changed while running).
    faults: FaultPlan = field(default_factory=FaultPlan)
    #: Run quick functions' warm invocations on the event loop's thread (see
    #: ``pizzabus.functions.inline``); False keeps each on its environment's thread.
    inline: bool = True
    #: Bounds on WebSocket clients (outboxes, timeouts, new connections per second).
    socket_limits: SocketLimits = field(default_factory=SocketLimits)
    #: Write Lambda's START / END / REPORT lines for each invocation (``serve --quiet``: no).
    invocation_logs: bool = True
    #: Record journey traces (``/_pizzabus/traces``, ``pizzabus trace``).
    tracing: bool = True
    #: Watch the functions' code folders and reload changed code (``serve``; ``--no-reload``).
    reload: bool = False
    #: The admin API's token, and the secret of the local SigV4 credentials (``pizzabus``).
    admin_token: str = field(default_factory=generate_token, repr=False)
    #: At most this many bytes of archived payloads: the oldest archived events go first, at
    #: each sweep. None: only the retention bounds the archive.
    max_archive_bytes: int | None = None
    #: Seconds an execution environment may stay idle before it is shut down (the next
    #: invocation then starts cold, as on Lambda); None keeps environments warm for good.
    environment_idle_ttl: float | None = DEFAULT_IDLE_TTL


def _failure_of(store: EventStore) -> str | None:
    failure = getattr(store, "failure", None)  # only a store on disk has outages
    return None if failure is None else str(failure)


class EmbeddedSystem:
    """Everything a definition describes, in this process; ``app`` serves it over ASGI."""

    def __init__(
        self,
        definition: SystemDefinition,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.definition = definition.validate()
        self.settings = settings or Settings()
        self.clock = clock or SystemClock()
        self.identity = self.settings.identity
        self._management = ManagementEndpoint(self.definition, self.settings.base_url)
        self.tables = self._open_tables()
        self.store = self._open_store()
        self.faults = FaultInjector(self.settings.faults)
        self.telemetry = Telemetry(
            log=InvocationLog() if self.settings.invocation_logs else None,
            traces=TraceStore() if self.settings.tracing else None,
            now=self.clock.now,
        )
        self.runtime = FunctionRuntime(
            definition.functions,
            overrides=self._sdk_for,
            resolve_endpoint=self.endpoint_of,
            identity=self.identity,
            clock=self.clock,
            default_concurrency=self.settings.default_concurrency,
            faults=self.faults,
            # A table call to a server blocks for a round trip: on the loop's thread it would
            # stall every request, so with PostgreSQL tables every invocation has its thread.
            inline=InlinePolicy() if self.settings.inline and not self.settings.tables else None,
            telemetry=self.telemetry,
            idle_ttl=self.settings.environment_idle_ttl,
        )
        self.deliverer = Deliverer(
            self.runtime,
            clock=self.clock,
            store=self.store,
            backoff=self.settings.backoff,
            max_in_flight=self.settings.max_in_flight,
            telemetry=self.telemetry,
            max_waiting_retry=self.settings.max_waiting_retry,
        )
        self.router = EventRouter(
            definition.buses,
            identity=self.identity,
            clock=self.clock,
            store=self.store,
            deliverer=self.deliverer,
            max_request_bytes=self.settings.max_request_bytes,
            telemetry=self.telemetry,
        )
        self.replayer = Replayer(self.router, self.store, self.clock)
        ws = definition.websocket_api
        self.connections = (
            ConnectionRegistry(
                ws.name,
                max_message_bytes=ws.max_message_bytes,
                inject_gone=self.faults.push_gone,
                limits=self.settings.socket_limits,
                clock=self.clock,
            )
            if ws
            else None
        )
        self.telemetry.metrics.concurrency = self.runtime.concurrency
        self.telemetry.metrics.connections = lambda: len(self.connections or ())
        self.operations = Operations(self)
        self.app = self._build_app()
        self._sweeper: asyncio.Task[None] | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.watcher = (
            CodeWatcher(definition.functions, self.runtime.discard)
            if self.settings.reload
            else None
        )
        self._watching: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- the Platform the boto3 stand-in talks to ---------------------------------------------

    def put_events(self, entries: Sequence[Any]) -> dict[str, Any]:
        return self.router.put_events(entries)

    def connection_manager(self, endpoint_url: str | None) -> ConnectionDirectory:
        return self._management.connection_manager(endpoint_url, self.connections)

    def endpoint_of_api(self) -> str:
        """The management URL of the definition's WebSocket API."""
        ws = self.definition.websocket_api
        if ws is None:
            raise Forbidden("This system has no WebSocket API.")
        return self.endpoint_of(WebSocketEndpoint(ws.name))

    def endpoint_of(self, endpoint: WebSocketEndpoint) -> str:
        """The management URL of a WebSocket API (what the lab copies by hand)."""
        return self._management.endpoint_of(endpoint)

    def _sdk_for(self, function: Function) -> Mapping[str, ModuleType]:
        return {"boto3": boto3_module(self, function)}

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.router.bind(loop)
        self.deliverer.bind(loop)
        self.runtime.bind()
        if self.connections is not None:
            self.connections.bind(loop)
        self._loop = loop
        resumed = await asyncio.to_thread(self.store.pending)
        if resumed:
            log.info("resuming %d deliveries accepted before the last stop", len(resumed))
            self._resume(resumed)
        self._sweeper = asyncio.create_task(self._sweep_expired())
        if self.connections is not None:
            self._reaper = asyncio.create_task(self.connections.reap_forever())
        if self.telemetry.log is not None:
            logs.announce_with(self.telemetry.log.announce)
        self._ticker = asyncio.create_task(self._tick_telemetry())
        if self.watcher is not None:
            self._watching = asyncio.create_task(self.watcher.run())

    async def stop(self) -> None:
        for task in (self._sweeper, self._reaper, self._ticker):
            if task is not None:
                task.cancel()
        if self.watcher is not None and self._watching is not None:
            self.watcher.stop()
            await asyncio.wait([self._watching], timeout=5)
        await self.replayer.close()
        await self.deliverer.close()
        self.runtime.close()
        self.tables.close()
        self.store.close()
        if self.telemetry.log is not None:
            self.telemetry.log.flush(None)
            logs.announce_with(None)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[EmbeddedSystem]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    def describe_tables(self) -> str:
        """Where the tables live, in a few words (for the start-up banner)."""
        if self.settings.tables:
            return f"PostgreSQL {self.tables_location}"
        if self.settings.data_dir is None:
            return "memory (--memory)"
        return f"{self.settings.data_dir}/ (SQLite)"

    def stats(self) -> dict[str, Any]:
        """What the system has done so far (served at ``/_pizzabus/stats``)."""
        delivery = self.deliverer.stats
        environments = self.runtime.environments()
        return {
            "events_published": self.router.published,
            "entries_throttled": self.router.throttled,
            "deliveries": {
                "submitted": delivery.submitted,
                "succeeded": delivery.succeeded,
                "failed_attempts": delivery.failed_attempts,
                "dead_lettered": delivery.dead_lettered,
                "in_flight": delivery.in_flight,
                "waiting_retry": delivery.waiting_retry,
                "by_target": dict(delivery.by_target),
            },
            "dead_letters": len(self.store.list()),
            "connections": len(self.connections) if self.connections is not None else 0,
            # Bytes waiting for slow WebSocket clients, and sockets closed by a limit.
            "sockets": {
                "outbox_bytes": self.connections.budget.total,
                "closed_by_limit": dict(self.connections.reaped),
            }
            if self.connections is not None
            else {},
            # What a long run watches for leaks (benchmarks/soak.py): constant once idle.
            "asyncio_tasks": len(asyncio.all_tasks()),
            # Why the event log refuses writes now (a full disk), or None.
            "event_log_failure": _failure_of(self.store),
            # Where each function's invocations run now (inline on the loop, or on threads),
            # and how many ran where; its warm environments, and those retired when idle.
            "functions": {
                name: {
                    "inline": placement.inline,
                    "inline_invocations": placement.inline_runs,
                    "thread_invocations": placement.thread_runs,
                    "demotions": placement.demotions,
                    "warm_environments": environments[name]["warm"],
                    "retired_environments": environments[name]["retired"],
                }
                for name, placement in self.runtime.placements().items()
            },
        }

    def console_state(self) -> dict[str, Any]:
        """What the operator console shows (``/_pizzabus/console/state``)."""
        operations = Operations(self)
        now = self.clock.now()
        return console_state(
            self.telemetry,
            self._map,
            self.stats,
            operations.dead_letters,
            lambda: [
                {
                    "event_id": parked.delivery.event_id,
                    "rule": parked.delivery.rule,
                    "target": parked.delivery.target.function,
                    "attempts": parked.delivery.attempts,
                    "due_in_s": round(max(0.0, parked.due - now), 3),
                    "error": str(parked.delivery.last_error or ""),
                }
                for parked in self.deliverer.waiting()
            ],
            operations.faults,
            self.connections.describe if self.connections is not None else list,
            # One process serves it all, /metrics included, at the base URL.
            [process("server", "server", os.getpid(), urlsplit(self.settings.base_url).netloc, 0)],
        )

    async def _tick_telemetry(self) -> None:
        # Invocation lines are written a few times a second (buffered); charts sample each second.
        while True:
            # Wall time, not the injected clock: the ticks flush output and sample charts for
            # people, and a test that advances a manual clock by a week must not run 3 million.
            await asyncio.sleep(TELEMETRY_TICK_SECONDS)
            try:
                self.telemetry.tick(time.monotonic())
            except Exception:  # a broken stdout must not stop the server
                log.exception("writing the invocation log failed")

    @property
    def tables_location(self) -> str:
        """Where the tables are, for people (never a password)."""
        return str(getattr(self.tables, "location", "here"))

    # --- wiring ------------------------------------------------------------------------------

    def _open_tables(self) -> TableStore:
        store: TableStore
        if self.settings.data_dir is not None:
            # The event log lives there whatever holds the tables.
            ensure_private_dir(self.settings.data_dir)
        if self.settings.tables is not None:
            store = _postgres_tables(self.settings.tables)
        elif self.settings.data_dir is None:
            store = MemoryTableStore()
        else:
            store = SqliteTableStore(ensure_private_file(self.settings.data_dir / "tables.sqlite3"))
        try:
            for table in self.definition.tables:
                store.create_table(table)
        except BaseException:
            store.close()
            raise
        return store

    def _open_store(self) -> EventStore:
        if self.settings.data_dir is None:
            return MemoryEventStore()
        return SqliteEventStore(
            ensure_private_file(self.settings.data_dir / "events.sqlite3"),
            # The router is built after the store, so look it up when a delivery resumes.
            targets=lambda bus, rule, index: self.router.target(bus, rule, index),  # noqa: PLW0108
            on_recovered=self._run_again,
        )

    def _run_again(self, deliveries: list[Delivery]) -> None:
        """After the event log's outage (from its thread): deliveries whose end could not be
        recorded run again, as they would after a restart."""
        loop = self._loop
        if deliveries and loop is not None and not loop.is_closed():
            log.info("the event log is back: running %d deliveries again", len(deliveries))
            loop.call_soon_threadsafe(self._resume, deliveries)

    def _resume(self, deliveries: list[Delivery]) -> None:
        self.deliverer.admit(len(deliveries), force=True)
        self.deliverer.submit(deliveries)

    def _build_app(self) -> Gateway:
        definition = self.definition
        parts = api_parts(
            definition,
            connections=self.connections,
            publisher=self.router,
            invoker=self.runtime,
            identity=self.identity,
            admin_token=self.settings.admin_token,
            clock=self.clock,
        )

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            async with self.running():
                yield

        self._map = system_map(definition)
        http_api = definition.http_api
        return build_app(
            observe=observe_routes(self.telemetry, self.console_state),
            wrap_http=lambda app: RequestTracing(
                app,
                self.telemetry,
                http_api.name if http_api else "",
                [(r.method, r.path, r.route_key) for r in http_api.routes] if http_api else [],
            ),
            api_routes=parts.api_routes,
            websocket=parts.websocket,
            management=parts.management,
            admin=admin_routes(self.operations),
            cors=definition.http_api.cors if definition.http_api else None,
            lifespan=lifespan,
            web_client=definition.web_client,
            guard=ControlGuard(self.settings.admin_token, allowed_hosts(self.settings.base_url)),
            aws=build_aws_apis(
                Backends(
                    identity=self.identity,
                    tables=self.tables,
                    table_names=[t.name for t in definition.tables],
                    buses=definition.buses,
                    publisher=self.router,
                    replays=self.operations,
                    functions=definition.functions,
                    invoke=self.runtime.invoke,
                    dead_letters=self.store,
                    base_url=self.settings.base_url,
                    clock=self.clock,
                ),
                secret=self.settings.admin_token,
                clock=self.clock,
            ),
        )

    async def _sweep_expired(self) -> None:
        while True:
            await self.clock.sleep(TTL_SWEEP_SECONDS)
            await self.sweep()

    async def sweep(self) -> None:
        """Delete expired items (TTL) and archived events past their retention or over
        ``max_archive_bytes`` (every ``TTL_SWEEP_SECONDS``, on threads, off the loop)."""
        # Each step failing must not stop the server or the other steps; the next sweep retries.
        try:
            removed = await asyncio.to_thread(self.tables.delete_expired, self.clock.now())
            if removed:
                log.info("TTL: removed %d expired items", removed)
        except Exception:
            log.exception("TTL sweep failed")
        try:
            await self._expire_archives()
        except Exception:
            log.exception("archive sweep failed")

    async def _expire_archives(self) -> None:
        for bus in self.definition.buses:
            if bus.archive is not None and bus.archive.retention is not None:
                before = self.clock.now() - bus.archive.retention.total_seconds()
                await asyncio.to_thread(self.store.expire, bus.name, before)
        limit = self.settings.max_archive_bytes
        if limit is not None:
            dropped = await asyncio.to_thread(self.store.trim, limit)
            if dropped:
                log.info("archive: dropped the %d oldest events (--max-archive-bytes)", dropped)


def _postgres_tables(dsn: str) -> TableStore:
    try:
        from pizzabus.tables.postgres import PostgresTableStore
    except ImportError as error:
        raise PizzabusError(str(error)) from None
    return PostgresTableStore(dsn)
