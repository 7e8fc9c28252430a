"""Deliveries of one function, consumed from JetStream and run in execution environments.

Each worker process asks only for as many deliveries as the function has free concurrency
(a :class:`~.feed.PullFeed`: long-lived pull requests, topped up as slots free), runs each,
and then: acks it (success), naks it with EventBridge's delay (failure, see
:mod:`.retry`), or writes its dead letter and terminates it (last attempt). Nothing is acked
before it succeeded: a worker that dies leaves its deliveries unacked, and JetStream hands them
to another worker after the function's timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from dataclasses import asdict, dataclass

from nats.aio.msg import Msg

from pizzabus.bus.deadletters import DeadLetter
from pizzabus.bus.delivery import Backoff
from pizzabus.clock import Clock
from pizzabus.contracts.invoker import Invoker
from pizzabus.distributed.broker import Broker, headers_of
from pizzabus.distributed.feed import PullFeed
from pizzabus.distributed.retry import (
    MAXIMUM_RETRY_ATTEMPTS_EXCEEDED,
    GiveUp,
    after_failure,
    attempts_exhausted,
)
from pizzabus.distributed.subjects import TRACE_HEADER
from pizzabus.functions.errors import FunctionError
from pizzabus.system import RetryPolicy, SystemDefinition
from pizzabus.telemetry import NO_TELEMETRY, Recorder, traceid

log = logging.getLogger("pizzabus.distributed.worker")


@dataclass
class ConsumerStats:
    succeeded: int = 0
    failed_attempts: int = 0
    dead_lettered: int = 0


class DeliveryConsumer:
    """Runs the deliveries of one function in this process."""

    def __init__(
        self,
        broker: Broker,
        definition: SystemDefinition,
        function: str,
        invoker: Invoker,
        *,
        concurrency: int,
        clock: Clock,
        backoff: Backoff,
        rng: random.Random | None = None,
        telemetry: Recorder = NO_TELEMETRY,
    ) -> None:
        self.broker = broker
        self.telemetry = telemetry
        self.function = function
        self.invoker = invoker
        self.clock = clock
        self.backoff = backoff
        self.rng = rng or random.Random()
        self.concurrency = concurrency
        self.stats = ConsumerStats()
        self._free = concurrency
        self._feed: PullFeed | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._policies = {
            (bus.name, rule.name, index): target.retry_policy
            for bus in definition.buses
            for rule in bus.rules
            for index, target in enumerate(rule.targets)
        }

    async def run(self) -> None:
        """Consume until cancelled."""
        names = self.broker.names
        self._feed = PullFeed(
            self.broker.nc,
            names.deliveries_stream,
            names.delivery_consumer(self.function),
            self._start,
            lambda: self._free,
            # Half the slots at a time: few requests under load, no slot left unasked long.
            batch=self.concurrency // 2,
        )
        try:
            await self._feed.run()
        finally:
            await self._feed.close()

    def _start(self, message: Msg) -> None:
        self._free -= 1
        task = asyncio.create_task(self._deliver(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, message: Msg) -> None:
        try:
            await self._attempt(message)
        except Exception:  # a fault of pizzabus's own: the delivery comes back after ack_wait
            log.exception("%s: handling a delivery failed", self.function)
        finally:
            self._free += 1
            if self._feed is not None:
                await self._feed.top_up()

    async def _attempt(self, message: Msg) -> None:
        headers = headers_of(message)
        attempt = message.metadata.num_delivered or 1
        policy = self._policy(headers)
        # This task's own context: the invocation's parent is the rule's match.
        trace = traceid.parse(headers.get(TRACE_HEADER))
        traceid.current.set(trace)
        if attempts_exhausted(attempt, policy):
            # The worker running the last attempt died: that attempt counts.
            await self._dead_letter(
                message, headers, attempt - 1, MAXIMUM_RETRY_ATTEMPTS_EXCEEDED, None, trace
            )
            return
        try:
            await self.invoker.invoke(self.function, message.data)
        except FunctionError as error:
            self.stats.failed_attempts += 1
            published = float(headers.get("Pizzabus-Published", self.clock.now()))
            decision = after_failure(
                attempt,
                policy,
                published_at=published,
                now=self.clock.now(),
                backoff=self.backoff,
                rng=self.rng,
            )
            rule = headers.get("Pizzabus-Rule", "")
            if isinstance(decision, GiveUp):
                await self._dead_letter(message, headers, attempt, decision.reason, error, trace)
                return
            self.telemetry.retrying(rule, self.function, trace, attempt, error, decision.delay)
            log.info(
                "%s → %s: attempt %d of %d failed (%s); retrying in %.2f s",
                headers.get("Pizzabus-Rule"),
                self.function,
                attempt,
                policy.maximum_retry_attempts + 1,
                error,
                decision.delay,
            )
            await message.nak(delay=decision.delay)
            return
        await message.ack()
        self.stats.succeeded += 1
        self.telemetry.delivered(headers.get("Pizzabus-Rule", ""), self.function)

    def _policy(self, headers: dict[str, str]) -> RetryPolicy:
        key = (
            headers.get("Pizzabus-Bus", ""),
            headers.get("Pizzabus-Rule", ""),
            int(headers.get("Pizzabus-Index", "0")),
        )
        return self._policies.get(key) or RetryPolicy()

    async def _dead_letter(
        self,
        message: Msg,
        headers: dict[str, str],
        attempts: int,
        reason: str,
        error: FunctionError | None,
        trace: traceid.Position | None,
    ) -> None:
        """Write the dead letter first, then terminate the delivery: a crash between the two
        at worst writes the same letter twice (keyed by the delivery, so it is one letter)."""
        letter = DeadLetter(
            event_id=headers.get("Pizzabus-Event-Id", ""),
            bus=headers.get("Pizzabus-Bus", ""),
            rule=headers.get("Pizzabus-Rule", ""),
            target=self.function,
            payload=message.data,
            attempts=attempts,
            reason=reason,
            error_type=error.error_type if error else "Pizzabus.WorkerDied",
            error_message=error.message if error else "the worker running it died",
            at=self.clock.now(),
            id=letter_id(headers.get("Nats-Msg-Id", "")),
        )
        assert self.broker.dead_letters is not None
        await self.broker.dead_letters.put(letter.id, encode_letter(letter))
        await message.term()
        self.stats.dead_lettered += 1
        self.telemetry.dead_lettered(
            letter.rule, self.function, trace, attempts, reason, error or letter.error_message
        )
        log.warning(
            "%s → %s: event %s dead-lettered after %d attempt(s) (%s): %s; see `pizzabus dlq list`",
            letter.rule,
            self.function,
            letter.event_id,
            attempts,
            reason,
            letter.error_message,
        )

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def letter_id(delivery_key: str) -> str:
    """A dead letter's id: a valid KV key derived from its delivery."""
    import hashlib

    return "dl-" + hashlib.sha256(delivery_key.encode()).hexdigest()[:16]


def encode_letter(letter: DeadLetter) -> bytes:
    document = asdict(letter)
    document["payload"] = letter.payload.decode("utf-8", "replace")
    return json.dumps(document).encode()


def decode_letter(data: bytes) -> DeadLetter:
    document = json.loads(data)
    document["payload"] = document["payload"].encode()
    return DeadLetter(**document)
