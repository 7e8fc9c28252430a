"""The connection to NATS and the JetStream layout a system needs (streams, consumers, buckets).

Every node calls :func:`connect` then :meth:`Broker.ensure`; creating what exists already is a
no-op, so gateways and workers can start in any order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import nats
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError
from nats.js.kv import KeyValue

from pizzabus.distributed.subjects import (
    DELIVERIES_MAX_AGE,
    DUPLICATE_WINDOW,
    Names,
    events_max_age,
)
from pizzabus.errors import PizzabusError
from pizzabus.system import SystemDefinition

log = logging.getLogger("pizzabus.distributed")

#: Extra time past a function's timeout before JetStream hands an unacknowledged delivery to
#: another worker (the worker that had it died).
ACK_MARGIN = 2.0
#: How long closing the connection may take.
CLOSE_TIMEOUT = 3.0
#: How long the router may hold an event before another router gets it.
ROUTER_ACK_WAIT = 10.0


class BrokerUnavailable(PizzabusError):
    code = "ServiceUnavailable"
    status = 503


@dataclass
class Broker:
    """A NATS connection with JetStream, and the names of this system's streams."""

    nc: Client
    js: JetStreamContext
    names: Names
    dead_letters: KeyValue | None = None
    config: KeyValue | None = None
    replays: KeyValue | None = None
    receipts: KeyValue | None = None

    async def ensure(
        self, definition: SystemDefinition, *, replicas: int = 1, timeout: float = 60.0
    ) -> None:
        """Create the streams, consumers and buckets ``definition`` needs (idempotent),
        waiting for a JetStream cluster that is still electing its leaders."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                await self._ensure(definition, replicas)
                return
            except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as error:
                if asyncio.get_running_loop().time() > deadline:
                    raise BrokerUnavailable(
                        f"JetStream did not become ready in {timeout:.0f} s ({error}); check "
                        "the nats-server logs (a cluster needs a majority of its nodes up)"
                    ) from error
                log.info("JetStream not ready yet (%s); retrying", error)
                await asyncio.sleep(0.5)

    async def _ensure(self, definition: SystemDefinition, replicas: int) -> None:
        names = self.names
        await self._stream(
            StreamConfig(
                name=names.events_stream,
                subjects=[names.events_wildcard],
                retention=RetentionPolicy.LIMITS,
                max_age=events_max_age(definition.buses),
                duplicate_window=DUPLICATE_WINDOW,
                storage=StorageType.FILE,
                num_replicas=replicas,
                discard=DiscardPolicy.OLD,
            )
        )
        await self._stream(
            StreamConfig(
                name=names.deliveries_stream,
                subjects=[names.deliveries_wildcard],
                retention=RetentionPolicy.WORK_QUEUE,
                max_age=DELIVERIES_MAX_AGE,
                duplicate_window=DUPLICATE_WINDOW,
                storage=StorageType.FILE,
                num_replicas=replicas,
            )
        )
        await self._consumer(
            names.events_stream,
            ConsumerConfig(
                durable_name=names.router_consumer,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=ROUTER_ACK_WAIT,
                deliver_policy=DeliverPolicy.ALL,
                max_ack_pending=10_000,
                num_replicas=replicas,
            ),
        )
        for function in definition.functions:
            await self._consumer(
                names.deliveries_stream,
                ConsumerConfig(
                    durable_name=names.delivery_consumer(function.name),
                    filter_subject=names.delivery_subject(function.name),
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=function.timeout.total_seconds() + ACK_MARGIN,
                    deliver_policy=DeliverPolicy.ALL,
                    # Retries wait out their nak delay as pending: leave room for many.
                    max_ack_pending=100_000,
                    num_replicas=replicas,
                ),
            )
        self.dead_letters = await self._bucket(names.dead_letters_bucket, replicas)
        self.config = await self._bucket(names.config_bucket, replicas)
        self.replays = await self._bucket(names.replays_bucket, replicas)
        self.receipts = await self._bucket(names.receipts_bucket, replicas)

    async def _stream(self, config: StreamConfig) -> None:
        try:
            await self.js.add_stream(config)
        except BadRequestError:
            await self.js.update_stream(config)

    async def _consumer(self, stream: str, config: ConsumerConfig) -> None:
        # add_consumer, not pull_subscribe: the latter keeps an existing durable's old
        # settings silently.
        try:
            await self.js.add_consumer(stream, config)
        except BadRequestError as error:
            log.info("consumer %s of %s kept as it is: %s", config.durable_name, stream, error)

    async def _bucket(self, name: str, replicas: int) -> KeyValue:
        try:
            return await self.js.key_value(name)
        except Exception:
            return await self.js.create_key_value(
                KeyValueConfig(bucket=name, history=1, replicas=replicas)
            )

    async def close(self) -> None:
        """Close the connection (unacknowledged messages go to others after their ack wait);
        a drain could wait on a request that will never be answered."""
        if not self.nc.is_closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.nc.close(), CLOSE_TIMEOUT)


async def connect(url: str, *, name: str, prefix: str = "pizzabus", timeout: float = 5.0) -> Broker:
    """Connect to the NATS server(s) at ``url`` (comma-separated), reconnecting for ever once
    connected; an unreachable server at start is one clear error."""
    servers = [u.strip() for u in url.split(",") if u.strip()]
    errors: list[str] = []
    connected: list[Client] = []

    async def failed(error: Exception) -> None:
        errors.append(str(error) or type(error).__name__)

    async def disconnected() -> None:
        # nats-py calls this on our own close() too (Ctrl+C): nothing was lost then.
        if connected and connected[0].is_closed:
            return
        log.warning("lost the connection to NATS; reconnecting")

    async def reconnected() -> None:
        log.warning("reconnected to NATS")

    try:
        nc = await asyncio.wait_for(
            nats.connect(
                servers=servers,
                name=name,
                connect_timeout=2,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                error_cb=failed,
                disconnected_cb=disconnected,
                reconnected_cb=reconnected,
            ),
            timeout,
        )
    except (TimeoutError, OSError, nats.errors.NoServersError) as error:
        raise BrokerUnavailable(
            f"cannot reach NATS at {url} ({errors[-1] if errors else error or 'timed out'}); "
            "check that nats-server runs there with JetStream (-js) and that --nats names it"
        ) from error
    connected.append(nc)
    return Broker(nc, nc.jetstream(timeout=5), Names(prefix))


async def probe(url: str) -> None:
    """Connect once and disconnect (raises :class:`BrokerUnavailable`), and check that the
    server has JetStream."""
    broker = await connect(url, name="pizzabus-probe")
    try:
        await broker.js.account_info()
    except Exception as error:
        raise BrokerUnavailable(
            f"NATS at {url} answers but has no JetStream ({error}); start nats-server with -js"
        ) from error
    finally:
        await broker.nc.close()


def headers_of(message: Any) -> dict[str, str]:
    """A message's headers ({} when it has none)."""
    return dict(message.headers or {})
