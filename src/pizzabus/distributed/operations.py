"""The admin operations of a distributed system, served by any gateway: stats from JetStream,
dead letters in a key-value bucket, the fault plan in another (every worker follows it),
replays read from the events stream (:mod:`.replay`)."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import asdict
from typing import Any

from nats.js.errors import InvalidKeyError, NoKeysError
from nats.js.errors import NotFoundError as NoEntry
from nats.js.kv import KeyValue

from pizzabus.bus.deadletters import DeadLetter
from pizzabus.bus.replay import ReplayRequest
from pizzabus.distributed.broker import Broker
from pizzabus.distributed.consumer import decode_letter
from pizzabus.distributed.replay import ClusterReplays
from pizzabus.distributed.worker import FAULTS_KEY
from pizzabus.errors import NotFoundError, ValidationError
from pizzabus.functions.faults import FaultPlan
from pizzabus.system import SystemDefinition

log = logging.getLogger("pizzabus.distributed")


async def read_letters(bucket: KeyValue) -> list[DeadLetter]:
    """Every dead letter in the bucket, oldest first."""
    try:
        keys = await bucket.keys()
    except NoKeysError:
        return []
    letters = []
    for key in keys:
        letter = await read_letter(bucket, key)
        if letter is not None:
            letters.append(letter)
    return sorted(letters, key=lambda letter: letter.at)


async def read_letter(bucket: KeyValue, letter_id: str) -> DeadLetter | None:
    """The dead letter ``letter_id``; None when there is none (or the id is no key at all)."""
    try:
        entry = await bucket.get(letter_id)
    except (NoEntry, InvalidKeyError):  # never written, deleted, or not a key
        return None
    return decode_letter(entry.value) if entry.value else None


def _summary(letter: DeadLetter) -> dict[str, Any]:
    summary = asdict(letter)
    del summary["payload"]
    return summary


class ClusterOperations:
    """:class:`~pizzabus.contracts.Operations` over the broker (answers are awaitables)."""

    def __init__(
        self,
        definition: SystemDefinition,
        broker: Broker,
        stats: Any,
        replays: ClusterReplays,
    ) -> None:
        self.definition = definition
        self.broker = broker
        self._replays = replays
        self._stats = stats
        self.plan = FaultPlan()

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._stats()
        return result

    async def _letters(self) -> list[DeadLetter]:
        assert self.broker.dead_letters is not None
        return await read_letters(self.broker.dead_letters)

    async def dead_letters(self) -> list[dict[str, Any]]:
        return [_summary(letter) for letter in await self._letters()]

    async def _letter(self, letter_id: str) -> DeadLetter:
        assert self.broker.dead_letters is not None
        letter = await read_letter(self.broker.dead_letters, letter_id)
        if letter is None:
            raise NotFoundError(
                f"No dead letter {letter_id}; `pizzabus dlq list` shows the ones there are "
                "(a redriven or purged one is gone)."
            )
        return letter

    async def dead_letter(self, letter_id: str) -> dict[str, Any]:
        letter = await self._letter(letter_id)
        detail = _summary(letter)
        try:
            detail["event"] = json.loads(letter.payload)
        except ValueError:
            detail["event_payload"] = letter.payload.decode(errors="replace")
        return detail

    async def redrive(self, letter_ids: list[str] | None) -> dict[str, Any]:
        """Deliver dead letters again: new deliveries with a fresh retry budget."""
        if letter_ids is None:
            letters = await self._letters()
        else:
            letters = [await self._letter(i) for i in letter_ids]
        assert self.broker.dead_letters is not None
        for letter in letters:
            index = self._index(letter)
            redriven = f"{letter.event_id}~redrive-{uuid.uuid4().hex[:8]}"
            headers = {
                "Nats-Msg-Id": f"{redriven}//{letter.rule}/{index}",
                "Pizzabus-Event-Id": redriven,
                "Pizzabus-Bus": letter.bus,
                "Pizzabus-Rule": letter.rule,
                "Pizzabus-Index": str(index),
                "Pizzabus-Published": repr(_now()),
            }
            await self.broker.js.publish(
                self.broker.names.delivery_subject(letter.target), letter.payload, headers=headers
            )
            await self.broker.dead_letters.delete(letter.id)
        return {"Redriven": len(letters)}

    def _index(self, letter: DeadLetter) -> int:
        for bus in self.definition.buses:
            for rule in bus.rules:
                if bus.name == letter.bus and rule.name == letter.rule:
                    for index, target in enumerate(rule.targets):
                        if target.function == letter.target:
                            return index
        raise ValidationError(
            f"Dead letter {letter.id} targets {letter.target} through rule {letter.rule}, "
            "which the system no longer has; purge it instead."
        )

    async def purge(self) -> dict[str, Any]:
        letters = await self._letters()
        assert self.broker.dead_letters is not None
        for letter in letters:
            await self.broker.dead_letters.delete(letter.id)
        return {"Purged": len(letters)}

    def retries(self) -> list[dict[str, Any]]:
        # A failed delivery waits in JetStream (nak with a delay), not in a gateway's memory.
        return []

    def cancel_retries(self, retry_ids: list[str] | None) -> dict[str, Any]:
        raise ValidationError(
            "On the distributed runtime a retry waits in JetStream (the consumer of its "
            "target redelivers it when due); it cannot be cancelled from here yet. Let it "
            "run out into the dead-letter queue, or fix the function and it completes."
        )

    async def replays(self) -> list[dict[str, Any]]:
        return [replay.describe() for replay in await self._replays.all_replays()]

    async def replay(self, name: str) -> dict[str, Any]:
        return (await self._replays.get(name)).describe()

    async def start_replay(self, request: dict[str, Any]) -> dict[str, Any]:
        buses = [bus.name for bus in self.definition.buses]
        return (await self._replays.start(ReplayRequest.parse(request, buses))).describe()

    async def cancel_replay(self, name: str) -> dict[str, Any]:
        return (await self._replays.cancel(name)).describe()

    async def faults(self) -> dict[str, Any]:
        assert self.broker.config is not None
        try:
            entry = await self.broker.config.get(FAULTS_KEY)
        except Exception:
            return FaultPlan().to_json()
        known = {f.name for f in self.definition.functions}
        return FaultPlan.parse(json.loads(entry.value or b"{}"), known).to_json()

    async def set_faults(self, plan: Any) -> dict[str, Any]:
        known = {f.name for f in self.definition.functions}
        parsed = FaultPlan.parse(plan, known)
        await publish_faults(self.broker, parsed)
        return parsed.to_json()


async def publish_faults(broker: Broker, plan: FaultPlan) -> None:
    """Keep the plan (for workers that start later) and announce it (to those running)."""
    assert broker.config is not None
    data = json.dumps(plan.to_json()).encode()
    await broker.config.put(FAULTS_KEY, data)
    await broker.nc.publish(broker.names.faults_subject, data)
    await broker.nc.flush()


def _now() -> float:
    import time

    return time.time()
