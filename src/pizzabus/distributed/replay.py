"""Replays on the distributed runtime: the events stream is the archive.

A replay reads its bus's events of a time window from the events stream with an ephemeral
consumer that starts at the window's start (the time JetStream stored an event is its archive
time, so the stream's retention is the archive's), keeps those the archive's pattern selects,
marks each with ``replay-name`` as EventBridge does, and publishes its deliveries to the rules
of the destination (all of the bus's, or the named ones). It routes the events itself: a
replayed event is never stored in the stream again, so no replay reads another's events.

Its state and progress live in a key-value bucket, so any gateway lists, describes or cancels
it. Every write is compare-and-set on the entry's revision: a cancel written by another
gateway is never overwritten by the runner's progress; the runner sees it at its next write.
Each write also stamps a heartbeat: a replay whose gateway died (kill -9) stops beating, and the
next gateway to read it records it FAILED instead of showing it running for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError
from nats.js.kv import KeyValue

from pizzabus.bus.bus import EventBus
from pizzabus.bus.replay import NAME, Replay, ReplayRequest, ReplayState, check_replay
from pizzabus.clock import Clock
from pizzabus.distributed.broker import Broker
from pizzabus.distributed.router import publish_deliveries
from pizzabus.errors import NotFoundError, ValidationError
from pizzabus.system import EventBus as BusSpec

log = logging.getLogger("pizzabus.distributed.replay")

#: Events read (and progress written) at once.
BATCH = 64
#: A pause between batches, so that a long replay leaves the broker to live traffic.
PACE = 0.001
#: How long JetStream keeps a replay's consumer once its gateway stops reading (it died).
IDLE_CONSUMER = 60.0
#: How long a fetch of events already in the stream may take.
FETCH_TIMEOUT = 5.0
#: A running replay whose heartbeat is older than this has lost its gateway (it writes
#: progress at every batch, far more often).
STALE_AFTER = 30.0
_LIVE = (ReplayState.STARTING, ReplayState.RUNNING)


class _Cancelled(Exception):
    """Another gateway asked the replay to stop; ``revision`` is that entry's."""

    def __init__(self, revision: int) -> None:
        self.revision = revision


def _encode(replay: Replay, beat: float) -> bytes:
    return json.dumps({**replay.describe(), "Heartbeat": beat}).encode()


def _heartbeat(value: bytes | None) -> float:
    return float(json.loads(value or b"{}").get("Heartbeat", 0.0))


def _decode(value: bytes | None) -> Replay:
    return Replay.from_description(json.loads(value or b"{}"))


class ClusterReplays:
    """Starts replays on this gateway, and describes or cancels any gateway's."""

    def __init__(self, broker: Broker, buses: Sequence[BusSpec], clock: Clock) -> None:
        self.broker = broker
        self.buses = {spec.name: EventBus(spec) for spec in buses}
        self.clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def _bucket(self) -> KeyValue:
        assert self.broker.replays is not None, "Broker.ensure() makes the replays bucket"
        return self.broker.replays

    async def start(self, request: ReplayRequest) -> Replay:
        """Check and record a replay, then run it on this gateway."""
        check_replay(
            request.name,
            request.bus,
            self.buses.get(request.bus),
            request.start,
            request.end,
            request.rules,
            self.clock.now(),
        )
        replay = Replay(request.name, request.bus, request.start, request.end, request.rules)
        replay.started_at = self.clock.now()
        try:
            revision = await self._bucket.create(replay.name, _encode(replay, self.clock.now()))
        except KeyWrongLastSequenceError:
            raise ValidationError(
                f"Replay {replay.name} already exists; choose another name."
            ) from None
        task = asyncio.create_task(self._run(replay, revision))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return replay

    async def get(self, name: str) -> Replay:
        """The replay as stored (one whose gateway died is recorded FAILED first)."""
        while True:
            entry = await self._entry(name)
            replay = _decode(entry.value)
            stale = self.clock.now() - _heartbeat(entry.value) > STALE_AFTER
            if replay.state not in (*_LIVE, ReplayState.CANCELLING) or not stale:
                return replay
            replay.state = ReplayState.FAILED
            replay.reason = (
                f"The gateway running the replay stopped (no progress for {STALE_AFTER:.0f} s); "
                "start it again."
            )
            replay.ended_at = self.clock.now()
            try:
                await self._bucket.update(
                    name, _encode(replay, self.clock.now()), last=entry.revision
                )
            except KeyWrongLastSequenceError:
                continue  # its runner beat after all, or another gateway recorded it
            return replay

    async def all_replays(self) -> list[Replay]:
        try:
            keys = await self._bucket.keys()
        except NoKeysError:
            return []
        replays = []
        for key in keys:
            with contextlib.suppress(NotFoundError):
                replays.append(await self.get(key))
        return sorted(replays, key=lambda replay: replay.started_at)

    async def cancel(self, name: str) -> Replay:
        """Ask a running replay to stop (whichever gateway runs it)."""
        while True:
            entry = await self._entry(name)
            replay = _decode(entry.value)
            if replay.state is ReplayState.CANCELLING:
                return replay
            if replay.state not in _LIVE:
                raise ValidationError(
                    f"Replay {name} is {replay.state.value}; only a running replay can be "
                    "cancelled."
                )
            replay.state = ReplayState.CANCELLING
            try:
                await self._bucket.update(
                    name, _encode(replay, _heartbeat(entry.value)), last=entry.revision
                )
            except KeyWrongLastSequenceError:
                continue  # its runner wrote progress meanwhile: look again
            return replay

    async def close(self) -> None:
        """Stop the replays this gateway runs (each says so in its state)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _entry(self, name: str) -> Any:
        if not NAME.match(name):
            raise NotFoundError(f"Replay {name} does not exist.")
        try:
            entry = await self._bucket.get(name)
        except KeyNotFoundError:
            raise NotFoundError(f"Replay {name} does not exist.") from None
        if not entry.value:
            raise NotFoundError(f"Replay {name} does not exist.")
        return entry

    # --- the runner ----------------------------------------------------------------------------

    async def _run(self, replay: Replay, revision: int) -> None:
        try:
            try:
                replay.state = ReplayState.RUNNING
                revision = await self._save(replay, revision)
                async for batch in self._window(replay):
                    revision = await self._save(replay, revision)
                    replay.total += len(batch)
                    for payload in batch:
                        await self._send(replay, payload)
                    await self.clock.sleep(PACE)
                replay.state = ReplayState.COMPLETED
            except _Cancelled as cancelled:
                replay.state = ReplayState.CANCELLED
                revision = cancelled.revision
        except asyncio.CancelledError:
            replay.state = ReplayState.FAILED
            replay.reason = "The gateway running the replay stopped; start it again."
            replay.ended_at = self.clock.now()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._save(replay, revision, final=True), 2.0)
            raise
        except Exception as error:  # a failed replay reports why instead of vanishing
            log.warning("replay %s failed: %s", replay.name, error)
            replay.state = ReplayState.FAILED
            replay.reason = str(error) or type(error).__name__
        replay.ended_at = self.clock.now()
        await self._save(replay, revision, final=True)

    async def _save(self, replay: Replay, revision: int, *, final: bool = False) -> int:
        """Write the replay's progress; raises :class:`_Cancelled` when another gateway asked
        it to stop (a final write replaces whatever is there)."""
        while True:
            try:
                value = _encode(replay, self.clock.now())
                return await self._bucket.update(replay.name, value, last=revision)
            except KeyWrongLastSequenceError:
                entry = await self._bucket.get(replay.name)
                if not final and _decode(entry.value).state is ReplayState.CANCELLING:
                    raise _Cancelled(entry.revision or 0) from None
                revision = entry.revision or 0

    async def _window(self, replay: Replay) -> AsyncIterator[list[bytes]]:
        """The archived events of the window, in stored order, a batch at a time."""
        names = self.broker.names
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_TIME,
            opt_start_time=datetime.fromtimestamp(replay.start, UTC),
            ack_policy=AckPolicy.NONE,
            inactive_threshold=IDLE_CONSUMER,
        )
        subscription = await self.broker.js.pull_subscribe(
            names.event_subject(replay.bus), stream=names.events_stream, config=config
        )
        bus = self.buses[replay.bus]
        # The stream keeps what the longest archive keeps; this bus's archive may keep less.
        retention = bus.spec.archive.retention if bus.spec.archive else None
        kept_since = self.clock.now() - retention.total_seconds() if retention else 0.0
        try:
            pending = (await subscription.consumer_info()).num_pending or 0
            while pending:
                messages = await subscription.fetch(min(BATCH, pending), timeout=FETCH_TIMEOUT)
                batch = []
                for message in messages:
                    pending = message.metadata.num_pending
                    stored = message.metadata.timestamp.timestamp()
                    if stored >= replay.end:
                        pending = 0
                        break
                    if stored >= max(replay.start, kept_since) and bus.archives(
                        json.loads(message.data)
                    ):
                        batch.append(message.data)
                if batch:
                    yield batch
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _send(self, replay: Replay, payload: bytes) -> None:
        event = json.loads(payload)
        event["replay-name"] = replay.name
        data = json.dumps(event).encode()
        deliveries = self.buses[replay.bus].route(event, data, self.clock.now(), replay.rules)
        await publish_deliveries(self.broker, deliveries)
        replay.replayed += 1
