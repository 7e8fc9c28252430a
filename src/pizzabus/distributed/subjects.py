"""Names on the broker: streams, subjects, consumers, buckets, and what a connection id says.

Every name is derived from a prefix, so several systems can share one NATS account.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pizzabus.system import EventBus

#: Seconds JetStream remembers a ``Nats-Msg-Id`` (its default): a PutEvents retried within it
#: is stored once.
DUPLICATE_WINDOW = 120.0
#: Events are kept at least this long (the longest a delivery may wait to be routed), and as
#: long as the longest archive keeps them: the stream is the archive that replays read.
EVENTS_MIN_AGE = 26 * 3_600.0
#: Deliveries outlive EventBridge's longest event age (24 h) plus the longest retry delay.
DELIVERIES_MAX_AGE = 26 * 3_600.0

#: The NATS header carrying the X-Ray trace header of an event, a delivery or an invocation.
TRACE_HEADER = "Pizzabus-Trace"

_TOKEN = re.compile(r"[^A-Za-z0-9_-]")


def events_max_age(buses: Sequence[EventBus]) -> float:
    """How long the events stream keeps events: its buses' longest archive retention (0, for
    ever, when an archive keeps events for ever), and at least :data:`EVENTS_MIN_AGE`."""
    longest = EVENTS_MIN_AGE
    for bus in buses:
        if bus.archive is None:
            continue
        if bus.archive.retention is None:
            return 0.0
        longest = max(longest, bus.archive.retention.total_seconds())
    return longest


def token(name: str) -> str:
    """``name`` as one subject token (NATS tokens cannot hold ``.``, ``*``, ``>``, spaces)."""
    return _TOKEN.sub("_", name)


@dataclass(frozen=True)
class Names:
    """The broker names of one system."""

    prefix: str = "pizzabus"

    @property
    def events_stream(self) -> str:
        return f"{self.prefix.upper()}_EVENTS"

    @property
    def deliveries_stream(self) -> str:
        return f"{self.prefix.upper()}_DELIVERIES"

    def event_subject(self, bus: str) -> str:
        return f"{self.prefix}.events.{token(bus)}"

    @property
    def events_wildcard(self) -> str:
        return f"{self.prefix}.events.>"

    def delivery_subject(self, function: str) -> str:
        return f"{self.prefix}.deliver.{token(function)}"

    @property
    def deliveries_wildcard(self) -> str:
        return f"{self.prefix}.deliver.>"

    @property
    def router_consumer(self) -> str:
        return "router"

    def delivery_consumer(self, function: str) -> str:
        return f"deliver-{token(function)}"

    def invoke_subject(self, function: str) -> str:
        return f"{self.prefix}.invoke.{token(function)}"

    def push_subject(self, gateway: str) -> str:
        return f"{self.prefix}.push.{gateway}"

    def alive_subject(self, worker: str) -> str:
        """Where a worker process answers while it lives (a gateway waiting on it asks)."""
        return f"{self.prefix}.alive.{worker}"

    @property
    def faults_subject(self) -> str:
        """Where a new fault plan is announced (workers apply it at once)."""
        return f"{self.prefix}.config.faults"

    @property
    def telemetry_subject(self) -> str:
        """Where every node relays its spans, counts and heartbeat (core NATS, no stream)."""
        return f"{self.prefix}.telemetry"

    @property
    def dead_letters_bucket(self) -> str:
        return f"{self.prefix}_dead_letters"

    @property
    def replays_bucket(self) -> str:
        """Replays and their progress, so that any gateway describes or cancels them."""
        return f"{self.prefix}_replays"

    @property
    def receipts_bucket(self) -> str:
        """Which dead letters an SQS receive holds, until when (shared by every gateway)."""
        return f"{self.prefix}_dlq_receipts"

    @property
    def config_bucket(self) -> str:
        return f"{self.prefix}_config"


#: Bytes of a connection id that name its gateway (the rest is random).
_GATEWAY_BYTES = 4


def new_gateway_tag() -> str:
    """A fresh name for a gateway node (8 hex digits; part of each of its connection ids)."""
    return os.urandom(_GATEWAY_BYTES).hex()


def connection_id(gateway: str) -> str:
    """A connection id shaped like API Gateway's (``L0SM9cOFvHcCIhw=``) that names ``gateway``."""
    return base64.b64encode(bytes.fromhex(gateway) + os.urandom(6)).decode()


def gateway_of(connection: str) -> str | None:
    """The gateway named in a connection id; None when the id is not one of ours."""
    try:
        raw = base64.b64decode(connection, validate=True)
    except ValueError:
        return None
    if len(raw) != _GATEWAY_BYTES + 6:
        return None
    return raw[:_GATEWAY_BYTES].hex()
