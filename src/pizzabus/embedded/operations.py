"""The admin operations of a running embedded system (served under ``/_pizzabus/``)."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from pizzabus.bus.deadletters import DeadLetter
from pizzabus.bus.records import Delivery
from pizzabus.bus.replay import ReplayRequest
from pizzabus.bus.store import StoredEvent
from pizzabus.errors import NotFoundError, ValidationError
from pizzabus.functions.faults import FaultPlan

if TYPE_CHECKING:
    from pizzabus.embedded.system import EmbeddedSystem


def _summary(letter: DeadLetter) -> dict[str, Any]:
    summary = asdict(letter)
    del summary["payload"], summary["stack_trace"]
    return summary


def _detail(letter: DeadLetter) -> dict[str, Any]:
    detail = _summary(letter)
    detail["stack_trace"] = list(letter.stack_trace)
    try:
        detail["event"] = json.loads(letter.payload)
    except ValueError:
        detail["event_base64"] = base64.b64encode(letter.payload).decode()
    return detail


class Operations:
    """Dead letters, replays and faults of an :class:`EmbeddedSystem`."""

    def __init__(self, system: EmbeddedSystem) -> None:
        self.system = system

    def stats(self) -> dict[str, Any]:
        return self.system.stats()

    def dead_letters(self) -> list[dict[str, Any]]:
        return [_summary(letter) for letter in self.system.store.list()]

    def dead_letter(self, letter_id: str) -> dict[str, Any]:
        letter = self.system.store.get(letter_id)
        if letter is None:
            raise NotFoundError(
                f"No dead letter {letter_id}; `pizzabus dlq list` shows the ones there are."
            )
        return _detail(letter)

    async def redrive(self, letter_ids: list[str] | None) -> dict[str, Any]:
        """Deliver dead letters again, as new deliveries with a fresh retry budget."""
        store = self.system.store
        if letter_ids is None:
            letters = await asyncio.to_thread(store.list)
        else:
            letters = [self._letter(i) for i in letter_ids]
        router = self.system.router
        deliveries: list[Delivery] = []
        events: list[StoredEvent] = []
        now = self.system.clock.now()
        for letter in letters:
            targets = router.buses[letter.bus].targets.get(letter.rule, ())
            index = next((i for i, t in enumerate(targets) if t.function == letter.target), None)
            if index is None:
                raise ValidationError(
                    f"Dead letter {letter.id} targets {letter.target} through rule "
                    f"{letter.rule}, which the system no longer has; purge it instead."
                )
            redriven_id = f"{letter.event_id}~redrive-{uuid.uuid4().hex[:8]}"
            events.append(StoredEvent(redriven_id, letter.bus, now, letter.payload, False))
            deliveries.append(
                Delivery(
                    event_id=redriven_id,
                    bus=letter.bus,
                    rule=letter.rule,
                    target=targets[index],
                    payload=letter.payload,
                    published_at=now,
                    index=index,
                )
            )
        if deliveries:
            self.system.deliverer.admit(len(deliveries), force=True)
            await asyncio.wrap_future(store.record(events, deliveries))
            for letter in letters:
                await asyncio.to_thread(store.remove, letter.id)
            router.start(deliveries)
        return {"Redriven": len(deliveries)}

    def _letter(self, letter_id: str) -> DeadLetter:
        letter = self.system.store.get(letter_id)
        if letter is None:
            raise NotFoundError(f"No dead letter {letter_id}; nothing was redriven.")
        return letter

    def retries(self) -> list[dict[str, Any]]:
        return [parked.describe() for parked in self.system.deliverer.waiting()]

    def cancel_retries(self, retry_ids: list[str] | None) -> dict[str, Any]:
        try:
            cancelled = self.system.deliverer.cancel_retries(retry_ids)
        except KeyError as error:
            raise NotFoundError(
                f"No delivery waiting for a retry with id {error.args[0]}; nothing was "
                "cancelled. `pizzabus retries list` shows the ones there are."
            ) from error
        return {"Cancelled": len(cancelled), "Ids": cancelled}

    def purge(self) -> dict[str, Any]:
        store = self.system.store
        letters = store.list()
        for letter in letters:
            store.remove(letter.id)
        return {"Purged": len(letters)}

    def replays(self) -> list[dict[str, Any]]:
        return [r.describe() for r in self.system.replayer.replays.values()]

    def replay(self, name: str) -> dict[str, Any]:
        return self.system.replayer.get(name).describe()

    def start_replay(self, request: dict[str, Any]) -> dict[str, Any]:
        wanted = ReplayRequest.parse(request, list(self.system.router.buses))
        replay = self.system.replayer.start(
            wanted.name, wanted.bus, wanted.start, wanted.end, wanted.rules
        )
        return replay.describe()

    def cancel_replay(self, name: str) -> dict[str, Any]:
        return self.system.replayer.cancel(name).describe()

    def faults(self) -> dict[str, Any]:
        return self.system.faults.plan.to_json()

    def set_faults(self, plan: Any) -> dict[str, Any]:
        known = {f.name for f in self.system.definition.functions}
        self.system.faults.plan = FaultPlan.parse(plan, known)
        return self.system.faults.plan.to_json()
