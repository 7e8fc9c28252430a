"""A gateway node: the HTTP API, the WebSocket API, ``@connections``, the admin API and AWS's
own APIs of a distributed system. It runs no handler: PutEvents is a JetStream publish,
invocations go to a worker, and pushes for its sockets come to it over NATS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from nats.js.errors import NoKeysError
from starlette.applications import Starlette

from pizzabus.awsapi import Backends, build_aws_apis
from pizzabus.awsapi.backends import DeadLetters, Receipts
from pizzabus.clock import SystemClock
from pizzabus.contracts.operations import Operations
from pizzabus.contracts.runtime import Distribution
from pizzabus.distributed.awsapi import BucketDeadLetters, BucketReceipts
from pizzabus.distributed.broker import Broker, connect
from pizzabus.distributed.invoker import NatsInvoker
from pizzabus.distributed.operations import ClusterOperations, publish_faults
from pizzabus.distributed.publisher import NatsPublisher
from pizzabus.distributed.pushes import PushService
from pizzabus.distributed.replay import ClusterReplays
from pizzabus.distributed.subjects import connection_id, new_gateway_tag
from pizzabus.distributed.tables import open_tables
from pizzabus.distributed.telemetry import (
    TICK_SECONDS,
    NodeInfo,
    RelayedTraces,
    TelemetryCollector,
    TelemetryRelay,
    advertised,
    relay_forever,
)
from pizzabus.embedded.system import Settings
from pizzabus.errors import PizzabusError
from pizzabus.functions.faults import FaultPlan
from pizzabus.functions.logs import InvocationLog
from pizzabus.gateway.admin import admin_routes
from pizzabus.gateway.app import Gateway, build_app
from pizzabus.gateway.connections import ConnectionRegistry
from pizzabus.gateway.console_state import console_state, system_map
from pizzabus.gateway.guard import ControlGuard, allowed_hosts
from pizzabus.gateway.observe import observe_routes
from pizzabus.gateway.tracing import RequestTracing
from pizzabus.gateway.wiring import api_parts
from pizzabus.system import SystemDefinition
from pizzabus.tables.store import TableStore
from pizzabus.telemetry import Telemetry

log = logging.getLogger("pizzabus.distributed")
T = TypeVar("T")

#: The table store URLs a gateway opens (to serve DynamoDB); without one it serves the rest.
TABLE_URLS = ("postgresql://", "postgres://", "sqlite:///")
#: How often the gateway reads the backlog (for throttling and stats).
BACKLOG_POLL = 0.5


class NotConnected(PizzabusError):
    code = "ServiceUnavailable"
    status = 503


class GatewayNode:
    """The :class:`~pizzabus.contracts.Runtime` of ``pizzabus serve --nats``."""

    def __init__(
        self, definition: SystemDefinition, settings: Settings, distribution: Distribution
    ) -> None:
        self.definition = definition.validate()
        self.settings = settings
        self.distribution = distribution
        self.clock = SystemClock()
        self.tag = new_gateway_tag()
        self.broker: Broker | None = None
        self._publisher: NatsPublisher | None = None
        self._invoker: NatsInvoker | None = None
        self._operations: ClusterOperations | None = None
        self._replays: ClusterReplays | None = None
        self._tables: TableStore | None = None
        self._dead_letters_store: BucketDeadLetters | None = None
        self._receipts: BucketReceipts | None = None
        self._poller: asyncio.Task[None] | None = None
        self._backlog = 0
        self._published_at_poll = 0
        self._dead_letters = 0
        self._consumers: dict[str, dict[str, int]] = {}
        ws = definition.websocket_api
        self.connections = (
            ConnectionRegistry(ws.name, max_message_bytes=ws.max_message_bytes) if ws else None
        )
        # Its own telemetry (requests; served at /metrics), and a view of the whole cluster's
        # for the console: its own counts plus those the other nodes relay, and every node's
        # spans in one store (traces, `pizzabus trace`).
        traces = RelayedTraces(keep=True) if settings.tracing else None
        self.telemetry = Telemetry(traces=traces, now=self.clock.now)
        self.telemetry.metrics.connections = lambda: len(self.connections or ())
        self.view = Telemetry(traces=traces, now=self.clock.now)
        self.node = NodeInfo(
            f"gateway-{self.tag}", "gateway", _host_port(settings.base_url), os.getpid()
        )
        self.collector: TelemetryCollector | None = None
        self._relaying: asyncio.Task[None] | None = None
        self._map = system_map(self.definition)
        self.app: Gateway = self._build_app()

    # --- the seams the gateway's parts are given (live once connected) ----------------------

    async def put_events_async(self, entries: object) -> dict[str, Any]:
        if self._publisher is None:
            raise NotConnected("The gateway is still connecting to NATS; retry shortly.")
        return await self._publisher.put_events_async(entries)

    def put_events(self, entries: Sequence[Any]) -> dict[str, Any]:
        if self._publisher is None:
            raise NotConnected("The gateway is still connecting to NATS; retry shortly.")
        return self._publisher.put_events(entries)

    async def invoke(self, name: str, payload: bytes, log: InvocationLog | None = None) -> Any:
        if self._invoker is None:
            raise NotConnected("The gateway is still connecting to NATS; retry shortly.")
        return await self._invoker.invoke(name, payload, log)

    def invoke_now(self, name: str, payload: bytes) -> Any:
        assert self._invoker is not None, "the gateway is not started"
        return self._invoker.invoke_now(name, payload)

    @property
    def operations(self) -> Operations:
        return _started(self._operations)

    @property
    def tables(self) -> TableStore:
        """The table store the workers share (AWS's DynamoDB API serves it)."""
        if self._tables is None and self._operations is not None:
            raise NotConnected(
                "This gateway was started without a table store, so it cannot serve DynamoDB: "
                "start it with --tables and the workers' postgresql:// URL."
            )
        return _started(self._tables)

    def describe_tables(self) -> str:
        return f"{self.distribution.tables_url} (shared by the workers)"

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.broker = broker = await connect(
            self.distribution.nats_url, name=f"pizzabus-gateway-{self.tag}"
        )
        await broker.ensure(self.definition, replicas=self.distribution.replicas)
        self._publisher = NatsPublisher(
            broker,
            self.definition.buses,
            identity=self.settings.identity,
            clock=self.clock,
            backlog=self._backlog_now,
            max_backlog=self.distribution.max_backlog,
            max_request_bytes=self.settings.max_request_bytes,
        )
        self._publisher.bind(loop)
        self._invoker = NatsInvoker(broker, self.definition)
        await self._invoker.start()
        if self.distribution.tables_url.startswith(TABLE_URLS):
            self._tables = await asyncio.to_thread(
                open_tables, self.distribution.tables_url, self.definition
            )
        assert broker.dead_letters is not None
        assert broker.receipts is not None
        self._dead_letters_store = BucketDeadLetters(broker.dead_letters, loop)
        self._receipts = BucketReceipts(broker.receipts, loop)
        self._replays = ClusterReplays(broker, self.definition.buses, self.clock)
        self._operations = ClusterOperations(self.definition, broker, self.stats, self._replays)
        if self.connections is not None:
            self.connections.bind(loop)
            await PushService(broker, self.tag, self.connections).start()
        if self.settings.faults.to_json() != FaultPlan().to_json():
            await publish_faults(broker, self.settings.faults)  # serve --faults plan.json
        self._poller = asyncio.create_task(self._poll_backlog())
        await self._start_telemetry(broker)

    async def _start_telemetry(self, broker: Broker) -> None:
        traces = self.telemetry.traces
        relayed = traces if isinstance(traces, RelayedTraces) else None
        self.collector = TelemetryCollector(broker, self.node, relayed, self.view.metrics)
        await self.collector.start()
        relay = TelemetryRelay(
            broker, self.node, self.telemetry.metrics, relayed, mirror=self.view.metrics.record
        )

        def tick() -> None:
            now = time.monotonic()
            self.telemetry.tick(now)  # drains this gateway's counts into the relay and view
            self.view.tick(now)

        self._relaying = asyncio.create_task(
            relay_forever(relay, tick, TICK_SECONDS, asyncio.sleep)
        )

    async def stop(self) -> None:
        for task in (self._poller, self._relaying):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._replays is not None:
            await self._replays.close()
        if self.broker is not None:
            with contextlib.suppress(Exception):
                await self.broker.close()
        if self._tables is not None:
            self._tables.close()

    async def _poll_backlog(self) -> None:
        assert self.broker is not None
        names = self.broker.names
        consumers = [(names.events_stream, names.router_consumer)] + [
            (names.deliveries_stream, names.delivery_consumer(f.name))
            for f in self.definition.functions
        ]
        while True:
            total = 0
            published = self._published()
            for stream, consumer in consumers:
                try:
                    info = await self.broker.js.consumer_info(stream, consumer)
                except Exception:
                    continue
                pending = {
                    "pending": info.num_pending or 0,
                    "in_flight": info.num_ack_pending or 0,
                    "redelivered": info.num_redelivered or 0,
                }
                self._consumers[consumer] = pending
                total += pending["pending"] + pending["in_flight"]
            self._backlog, self._published_at_poll = total, published
            self._dead_letters = await self._count_dead_letters()
            await asyncio.sleep(BACKLOG_POLL)

    def _published(self) -> int:
        return self._publisher.published if self._publisher is not None else 0

    def _backlog_now(self) -> int:
        """The backlog last polled, plus the events this gateway stored since: a burst is
        throttled once it passes the bound, not a poll later (other gateways' bursts show at
        the next poll). Events stored while a poll ran may count twice: it errs on the side of
        throttling, for at most one poll."""
        return self._backlog + self._published() - self._published_at_poll

    async def _count_dead_letters(self) -> int:
        assert self.broker is not None
        assert self.broker.dead_letters is not None
        try:
            return len(await self.broker.dead_letters.keys())
        except NoKeysError:
            return 0
        except Exception:
            return self._dead_letters

    def stats(self) -> dict[str, Any]:
        publisher = self._publisher
        return {
            "runtime": "distributed",
            "gateway": self.tag,
            "events_published": publisher.published if publisher else 0,
            "entries_throttled": publisher.throttled if publisher else 0,
            "entries_failed": publisher.failed if publisher else 0,
            "backlog": self._backlog,
            "dead_letters": self._dead_letters,
            "consumers": dict(self._consumers),
            "connections": len(self.connections) if self.connections is not None else 0,
        }

    async def console_state(self) -> dict[str, Any]:
        """What the operator console shows: the cluster's counts and traces, as relayed."""
        operations = self.operations

        async def read(action: Any, empty: Any) -> Any:
            try:
                return await action()
            except Exception:  # the broker away: the console shows the rest
                return empty

        letters = await read(operations.dead_letters, [])
        faults = await read(operations.faults, FaultPlan().to_json())
        stats = self.stats()
        # The console's "in flight": deliveries workers hold now, as JetStream counts them.
        router = self.broker.names.router_consumer if self.broker is not None else None
        stats["deliveries"] = {
            "in_flight": sum(c["in_flight"] for n, c in self._consumers.items() if n != router)
        }
        return console_state(
            self.view,
            self._map,
            lambda: stats,
            lambda: letters,
            list,  # retries wait in JetStream (nak delays), not in a gateway
            lambda: faults,
            self.connections.describe if self.connections is not None else list,
            self.collector.processes() if self.collector else [self.node.process(0.0)],
        )

    def metrics_targets(self) -> list[dict[str, Any]]:
        if self.collector is None:
            return [{"targets": [self.node.metrics], "labels": {"job": "pizzabus-gateway"}}]
        return self.collector.targets()

    # --- wiring ------------------------------------------------------------------------------

    def _build_app(self) -> Gateway:
        definition = self.definition
        parts = api_parts(
            definition,
            connections=self.connections,
            publisher=self,
            invoker=self,
            identity=self.settings.identity,
            admin_token=self.settings.admin_token,
            clock=self.clock,
            new_id=lambda: connection_id(self.tag),
        )

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        http_api = definition.http_api
        return build_app(
            observe=observe_routes(
                self.telemetry, self.console_state, metrics_targets=self.metrics_targets
            ),
            wrap_http=lambda app: RequestTracing(
                app,
                self.telemetry,
                http_api.name if http_api else "",
                [(r.method, r.path, r.route_key) for r in http_api.routes] if http_api else [],
            ),
            api_routes=parts.api_routes,
            websocket=parts.websocket,
            management=parts.management,
            admin=admin_routes(cast(Operations, _Late(lambda: self.operations))),
            cors=definition.http_api.cors if definition.http_api else None,
            lifespan=lifespan,
            web_client=definition.web_client,
            guard=ControlGuard(self.settings.admin_token, allowed_hosts(self.settings.base_url)),
            aws=build_aws_apis(
                self._aws_backends(), secret=self.settings.admin_token, clock=self.clock
            ),
        )

    def _aws_backends(self) -> Backends:
        """The parts AWS's APIs serve; the ones made at start are found when first used."""
        definition = self.definition
        return Backends(
            identity=self.settings.identity,
            tables=cast(TableStore, _Late(lambda: self.tables)),
            table_names=[t.name for t in definition.tables],
            buses=definition.buses,
            publisher=self,
            replays=cast(Operations, _Late(lambda: self.operations)),
            functions=definition.functions,
            invoke=self.invoke,
            dead_letters=cast(DeadLetters, _Late(lambda: _started(self._dead_letters_store))),
            base_url=self.settings.base_url,
            clock=self.clock,
            receipts=cast(Receipts, _Late(lambda: _started(self._receipts))),
        )


def _started(part: T | None) -> T:
    """A part the node makes once connected; NotConnected (503) before then."""
    if part is None:
        raise NotConnected("The gateway is still connecting to NATS; retry shortly.")
    return part


def _host_port(base_url: str) -> str:
    """``host:port`` of a base URL (a scrape target)."""
    parts = urlsplit(base_url)
    return advertised(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))


class _Late:
    """A part of a node that connects at start: each use finds it then."""

    def __init__(self, find: Callable[[], Any]) -> None:
        self._find = find

    def __getattr__(self, name: str) -> Any:
        return getattr(self._find(), name)
