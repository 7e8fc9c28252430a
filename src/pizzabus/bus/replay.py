"""Replays: re-send a bus's archived events of a time window, as EventBridge's StartReplay.

Replayed events carry ``replay-name``, go to all of the bus's rules or only the named ones,
and are never archived again. A replay runs as a task; it can be listed and cancelled while it
runs, and reports how far it got.
"""

from __future__ import annotations

import asyncio
import enum
import json
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pizzabus.bus.bus import EventBus, EventRouter
from pizzabus.bus.store import EventStore
from pizzabus.clock import Clock
from pizzabus.errors import NotFoundError, ValidationError

NAME = re.compile(r"^[.\-_A-Za-z0-9]{1,64}$")
#: How many events a replay sends before letting the rest of the server run.
YIELD_EVERY = 20


class ReplayState(enum.Enum):
    """EventBridge's replay states."""

    STARTING = "STARTING"
    RUNNING = "RUNNING"
    CANCELLING = "CANCELLING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


@dataclass
class Replay:
    """One replay and its progress."""

    name: str
    bus: str
    start: float
    end: float
    rules: tuple[str, ...] | None
    state: ReplayState = ReplayState.STARTING
    total: int = 0
    replayed: int = 0
    reason: str = ""
    started_at: float = 0.0
    ended_at: float | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def describe(self) -> dict[str, Any]:
        return {
            "ReplayName": self.name,
            "EventSourceArn": self.bus,
            "State": self.state.value,
            "StateReason": self.reason,
            "EventStartTime": self.start,
            "EventEndTime": self.end,
            "Rules": list(self.rules) if self.rules is not None else None,
            "EventsTotal": self.total,
            "EventsReplayed": self.replayed,
            "ReplayStartTime": self.started_at,
            "ReplayEndTime": self.ended_at,
        }

    @classmethod
    def from_description(cls, described: dict[str, Any]) -> Replay:
        """The replay :meth:`describe` gave (a runtime that keeps replays as JSON)."""
        rules = described.get("Rules")
        return cls(
            name=described["ReplayName"],
            bus=described["EventSourceArn"],
            start=described["EventStartTime"],
            end=described["EventEndTime"],
            rules=tuple(rules) if rules is not None else None,
            state=ReplayState(described["State"]),
            total=described["EventsTotal"],
            replayed=described["EventsReplayed"],
            reason=described["StateReason"],
            started_at=described["ReplayStartTime"],
            ended_at=described["ReplayEndTime"],
        )


@dataclass(frozen=True)
class ReplayRequest:
    """What the admin API's ``start_replay`` asks for, checked for its shape."""

    name: str
    bus: str
    start: float
    end: float
    rules: tuple[str, ...] | None

    @classmethod
    def parse(cls, request: dict[str, Any], buses: Sequence[str]) -> ReplayRequest:
        """Read ``{name?, bus?, from, to?, rules?}`` (bus may be left out when there is one)."""
        bus = request.get("bus") or (buses[0] if len(buses) == 1 else None)
        if not isinstance(bus, str):
            raise ValidationError(f"Name the bus to replay: one of {', '.join(buses)}")
        rules = request.get("rules")
        if rules is not None and not (
            isinstance(rules, list) and all(isinstance(r, str) for r in rules)
        ):
            raise ValidationError("rules must be a list of rule names")
        name = request.get("name") or f"replay-{uuid.uuid4().hex[:8]}"
        return cls(
            str(name),
            bus,
            parse_time(request.get("from"), "from"),
            parse_time(request.get("to", "now"), "to"),
            tuple(rules) if rules else None,
        )


def parse_time(value: Any, what: str) -> float:
    """Epoch seconds from a number, ``now``, or an ISO 8601 timestamp."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if value == "now":
        return time.time()
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return parsed.timestamp()
    raise ValidationError(
        f"{what} {value!r} is not a time: give ISO 8601 (2026-11-28T09:30:00Z), epoch "
        "seconds, or 'now'"
    )


def check_replay(
    name: str,
    bus_name: str,
    bus: EventBus | None,
    start: float,
    end: float,
    rules: Sequence[str] | None,
    now: float,
) -> None:
    """Refuse a replay that cannot run, saying what to change (``ValidationError`` or
    ``NotFoundError``); whether the name is taken is the caller's to check."""
    if not NAME.match(name):
        raise ValidationError(
            f"Replay name {name!r} is not valid: use 1 to 64 letters, digits, '.', '-', '_'."
        )
    if bus is None:
        raise NotFoundError(f"Event bus {bus_name} does not exist.")
    if bus.spec.archive is None:
        raise ValidationError(
            f"Event bus {bus_name} has no archive, so there is nothing to replay; "
            "give it an Archive in the system definition."
        )
    if start >= end:
        raise ValidationError("The start of the replay window must be before its end.")
    if end > now + 1:
        raise ValidationError("The end of the replay window cannot be in the future.")
    unknown = sorted(set(rules or ()) - set(bus.targets))
    if unknown:
        raise NotFoundError(
            f"Rule(s) {', '.join(unknown)} do not exist on {bus_name}; it has "
            f"{', '.join(sorted(bus.targets))}."
        )


class Replayer:
    """Starts, tracks and cancels replays on the event loop."""

    def __init__(self, router: EventRouter, store: EventStore, clock: Clock) -> None:
        self.router = router
        self.store = store
        self.clock = clock
        self.replays: dict[str, Replay] = {}

    def start(
        self,
        name: str,
        bus: str,
        start: float,
        end: float,
        rules: Sequence[str] | None = None,
    ) -> Replay:
        """Validate and start a replay (on the loop); raises ``ValidationError`` or
        ``NotFoundError`` saying what to change."""
        self._validate(name, bus, start, end, rules)
        replay = Replay(name, bus, start, end, tuple(rules) if rules else None)
        replay.started_at = self.clock.now()
        replay.task = asyncio.get_running_loop().create_task(self._run(replay))
        self.replays[name] = replay
        return replay

    def get(self, name: str) -> Replay:
        replay = self.replays.get(name)
        if replay is None:
            raise NotFoundError(f"Replay {name} does not exist.")
        return replay

    def cancel(self, name: str) -> Replay:
        replay = self.get(name)
        if replay.state in (ReplayState.STARTING, ReplayState.RUNNING):
            replay.state = ReplayState.CANCELLING
        elif replay.state is not ReplayState.CANCELLING:
            raise ValidationError(
                f"Replay {name} is {replay.state.value}; only a running replay can be cancelled."
            )
        return replay

    async def close(self) -> None:
        for replay in self.replays.values():
            if replay.task is not None:
                replay.task.cancel()

    def _validate(
        self, name: str, bus: str, start: float, end: float, rules: Sequence[str] | None
    ) -> None:
        if NAME.match(name) and name in self.replays:
            raise ValidationError(f"Replay {name} already exists; choose another name.")
        check_replay(name, bus, self.router.buses.get(bus), start, end, rules, self.clock.now())

    async def _run(self, replay: Replay) -> None:
        try:
            events = await asyncio.to_thread(
                self.store.archived, replay.bus, replay.start, replay.end
            )
            replay.total = len(events)
            if replay.state is ReplayState.STARTING:
                replay.state = ReplayState.RUNNING
            for count, stored in enumerate(events, start=1):
                if replay.state is ReplayState.CANCELLING:
                    replay.state = ReplayState.CANCELLED
                    break
                event = json.loads(stored.payload)
                event["replay-name"] = replay.name
                await self._republish(replay, event)
                replay.replayed += 1
                if count % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # a long replay must not hold the server's loop
            else:
                replay.state = ReplayState.COMPLETED
        except Exception as error:  # a failed replay reports why instead of vanishing
            replay.state = ReplayState.FAILED
            replay.reason = str(error)
        finally:
            replay.ended_at = self.clock.now()

    async def _republish(self, replay: Replay, event: dict[str, Any]) -> None:
        while True:
            outcome = self.router.republish(replay.bus, event, replay.rules)
            if outcome is not None:
                deliveries, stored = outcome
                if not stored.done():
                    await asyncio.wait([asyncio.wrap_future(stored)])
                stored.result()
                self.router.start(deliveries)
                return
            await self.clock.sleep(0.05)  # the bus is full: let deliveries drain first
