"""A worker process: the functions' execution environments, fed from JetStream.

It runs the embedded :class:`~pizzabus.functions.runtime.FunctionRuntime` (per-function
environment, timeout, reserved concurrency, fault injection), with every invocation on its
environment's own thread: a handler's boto3 calls (PutEvents, pushes) wait on this process's
event loop, which therefore must never be running a handler itself. It also routes events
(:mod:`.router`) and answers the gateways' synchronous invocations (:mod:`.invoker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from prometheus_client import start_http_server

from pizzabus.bus.delivery import Backoff
from pizzabus.clock import Clock, SystemClock
from pizzabus.contracts.connections import ConnectionDirectory
from pizzabus.contracts.identity import RuntimeIdentity
from pizzabus.distributed.broker import Broker, connect
from pizzabus.distributed.consumer import DeliveryConsumer
from pizzabus.distributed.invoker import InvokeService
from pizzabus.distributed.publisher import NatsPublisher
from pizzabus.distributed.pushes import RemoteConnections
from pizzabus.distributed.router import Router
from pizzabus.distributed.tables import open_tables
from pizzabus.distributed.telemetry import (
    TICK_SECONDS,
    NodeInfo,
    RelayedTraces,
    TelemetryRelay,
    advertised,
    new_node_name,
    relay_forever,
)
from pizzabus.embedded.reload import CodeWatcher
from pizzabus.functions import logs
from pizzabus.functions.faults import FaultInjector, FaultPlan
from pizzabus.functions.retirement import DEFAULT_IDLE_TTL
from pizzabus.functions.runtime import DEFAULT_CONCURRENCY, FunctionRuntime
from pizzabus.gateway.wiring import ManagementEndpoint
from pizzabus.sdk.boto3_shim import boto3_module
from pizzabus.system import Function, SystemDefinition, WebSocketEndpoint
from pizzabus.tables.store import TableStore
from pizzabus.telemetry import NO_TELEMETRY, Recorder, Telemetry
from pizzabus.telemetry.invocation_log import InvocationLog
from pizzabus.telemetry.metrics import registry

log = logging.getLogger("pizzabus.distributed.worker")

#: The config bucket's key holding the fault plan (``pizzabus faults`` on any gateway).
FAULTS_KEY = "faults"
#: How often a worker reads the fault plan.
FAULTS_POLL = 1.0


@dataclass(frozen=True)
class WorkerSettings:
    nats_url: str
    tables_url: str
    #: The gateways' public base URL (what ``APIGW_ENDPOINT`` names).
    base_url: str = "http://127.0.0.1:8000"
    identity: RuntimeIdentity = field(default_factory=RuntimeIdentity)
    backoff: Backoff = field(default_factory=Backoff)
    default_concurrency: int = DEFAULT_CONCURRENCY
    replicas: int = 1
    #: Route events here too (every worker does by default; the router consumer is shared).
    route: bool = True
    #: Write Lambda's START / END / REPORT lines (``--quiet``: no).
    invocation_logs: bool = True
    #: Record journey spans and relay them to the gateways (``--no-traces``: no).
    tracing: bool = True
    #: Reload a function's code when a file of its code folder is saved.
    reload: bool = False
    #: Where this process serves ``/metrics`` (port 0: a free one; None: not served).
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = 0
    #: This process's name among the cluster's nodes (the console, the scrape targets).
    node: str = ""
    #: Seconds an execution environment may stay idle before it is shut down (None: never).
    environment_idle_ttl: float | None = DEFAULT_IDLE_TTL


class WorkerPlatform:
    """The :class:`~pizzabus.sdk.platform.Platform` handlers reach on a worker."""

    def __init__(
        self,
        definition: SystemDefinition,
        tables: TableStore,
        publisher: NatsPublisher,
        connections: ConnectionDirectory | None,
        identity: RuntimeIdentity,
        base_url: str,
        telemetry: Recorder = NO_TELEMETRY,
    ) -> None:
        self.definition = definition
        self.identity = identity
        self.tables = tables
        self._publisher = publisher
        self._connections = connections
        self._management = ManagementEndpoint(definition, base_url)
        self.telemetry = telemetry

    def put_events(self, entries: Sequence[Any]) -> dict[str, Any]:
        return self._publisher.put_events(entries)

    def connection_manager(self, endpoint_url: str | None) -> ConnectionDirectory:
        return self._management.connection_manager(endpoint_url, self._connections)

    def endpoint_of(self, endpoint: WebSocketEndpoint) -> str:
        return self._management.endpoint_of(endpoint)


class Worker:
    """One worker process's parts, running on its event loop."""

    def __init__(
        self, definition: SystemDefinition, settings: WorkerSettings, clock: Clock | None = None
    ) -> None:
        self.definition = definition.validate()
        self.settings = settings
        self.clock = clock or SystemClock()
        self.faults = FaultInjector(FaultPlan())
        self.tables: TableStore | None = None
        self.broker: Broker | None = None
        self.runtime: FunctionRuntime | None = None
        self.consumers: list[DeliveryConsumer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._platform: WorkerPlatform | None = None
        self.telemetry = Telemetry(
            log=InvocationLog() if settings.invocation_logs else None,
            # Spans are relayed to the gateways, which keep them; none are kept here.
            traces=RelayedTraces(keep=False) if settings.tracing else None,
            now=self.clock.now,
        )
        self.relay: TelemetryRelay | None = None
        self.metrics_url: str | None = None
        self._metrics_server: Any = None
        self.watcher: CodeWatcher | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        settings = self.settings
        self.tables = await asyncio.to_thread(open_tables, settings.tables_url, self.definition)
        self.broker = broker = await connect(settings.nats_url, name="pizzabus-worker")
        await broker.ensure(self.definition, replicas=settings.replicas)
        publisher = NatsPublisher(
            broker, self.definition.buses, identity=settings.identity, clock=self.clock
        )
        publisher.bind(loop)
        ws = self.definition.websocket_api
        connections = RemoteConnections(broker, loop, ws.name, ws.max_message_bytes) if ws else None
        self._platform = WorkerPlatform(
            self.definition,
            self.tables,
            publisher,
            connections,
            settings.identity,
            settings.base_url,
            self.telemetry,
        )
        self.runtime = runtime = FunctionRuntime(
            self.definition.functions,
            overrides=self._sdk_for,
            resolve_endpoint=self._platform.endpoint_of,
            identity=settings.identity,
            clock=self.clock,
            default_concurrency=settings.default_concurrency,
            faults=self.faults,
            inline=None,  # handlers wait on this loop: they never run on it
            telemetry=self.telemetry,
            idle_ttl=settings.environment_idle_ttl,
        )
        runtime.bind()
        self.telemetry.metrics.concurrency = runtime.concurrency
        self._start_telemetry(broker)
        await InvokeService(broker, self.definition, runtime).start()
        for function in self.definition.functions:
            consumer = DeliveryConsumer(
                broker,
                self.definition,
                function.name,
                runtime,
                concurrency=function.reserved_concurrency or settings.default_concurrency,
                clock=self.clock,
                backoff=settings.backoff,
                telemetry=self.telemetry,
            )
            self.consumers.append(consumer)
            self._tasks.append(asyncio.create_task(consumer.run()))
        if settings.route:
            router = Router(broker, self.definition.buses, self.clock, self.telemetry)
            self._tasks.append(asyncio.create_task(router.run()))
        self._tasks.append(asyncio.create_task(self._follow_faults()))
        if settings.reload:
            self.watcher = CodeWatcher(self.definition.functions, runtime.discard)
            self._tasks.append(asyncio.create_task(self.watcher.run()))

    def _start_telemetry(self, broker: Broker) -> None:
        """Serve ``/metrics``, write the invocation lines, relay spans and counts."""
        settings = self.settings
        if settings.metrics_port is not None:
            server, _ = start_http_server(
                settings.metrics_port,
                addr=settings.metrics_host,
                registry=registry(self.telemetry.metrics),
            )
            self._metrics_server = server
            self.metrics_url = advertised(settings.metrics_host, server.server_port)
        node = NodeInfo(
            settings.node or new_node_name("worker"), "worker", self.metrics_url, os.getpid()
        )
        traces = self.telemetry.traces
        self.relay = TelemetryRelay(
            broker,
            node,
            self.telemetry.metrics,
            traces if isinstance(traces, RelayedTraces) else None,
        )
        if self.telemetry.log is not None:
            logs.announce_with(self.telemetry.log.announce)
        self._tasks.append(
            asyncio.create_task(
                relay_forever(
                    self.relay,
                    lambda: self.telemetry.tick(time.monotonic()),
                    TICK_SECONDS,
                    asyncio.sleep,  # wall time: output and heartbeats are for people
                )
            )
        )

    def _sdk_for(self, function: Function) -> Mapping[str, ModuleType]:
        assert self._platform is not None
        return {"boto3": boto3_module(self._platform, function)}

    async def _follow_faults(self) -> None:
        """Keep the fault plan the gateways were given (``pizzabus faults``): applied at once
        when announced, and read back now and then (an announcement missed while
        reconnecting)."""
        assert self.broker is not None
        assert self.broker.config is not None
        known = {f.name for f in self.definition.functions}
        seen: bytes | None = None

        async def announced(message: Any) -> None:
            with contextlib.suppress(Exception):
                self.faults.plan = FaultPlan.parse(json.loads(message.data), known)

        await self.broker.nc.subscribe(self.broker.names.faults_subject, cb=announced)
        while True:
            try:
                entry = await self.broker.config.get(FAULTS_KEY)
                value = entry.value or b"{}"
            except Exception:
                value = b"{}"
            if value != seen:
                seen = value
                with contextlib.suppress(Exception):
                    self.faults.plan = FaultPlan.parse(json.loads(value), known)
            await asyncio.sleep(FAULTS_POLL)

    async def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.telemetry.log is not None:
            self.telemetry.log.flush(None)
            logs.announce_with(None)
        if self.relay is not None:
            self.telemetry.metrics.drain()
            with contextlib.suppress(Exception):
                await self.relay.flush()  # the last counts and spans
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
        for consumer in self.consumers:
            await consumer.close()
        if self.runtime is not None:
            self.runtime.close()
        if self.broker is not None:
            with contextlib.suppress(Exception):
                await self.broker.close()
        if self.tables is not None:
            self.tables.close()

    async def serve_forever(self) -> None:
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()
