"""AWS's own APIs on a gateway node: a cluster's parts behind :class:`~pizzabus.awsapi.Backends`.

DynamoDB is the shared table store, EventBridge the gateway's publisher and the cluster's
replays, Lambda's Invoke a request to some worker (which sends back what the invocation logged,
for ``LogType: Tail``). The SQS service reads the dead-letter queues from worker threads (an
embedded store blocks); here the letters live in a key-value bucket, so these adapters run the
bucket's coroutines on the gateway's loop and wait for them. A receive's visibility timeout is a
compare-and-set entry of another bucket: every gateway sees it, and of two receives one wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Coroutine
from typing import Any, TypeVar

from nats.js.errors import InvalidKeyError, KeyWrongLastSequenceError
from nats.js.errors import NotFoundError as NoEntry
from nats.js.kv import KeyValue

from pizzabus.bus.deadletters import DeadLetter
from pizzabus.distributed.operations import read_letter, read_letters

T = TypeVar("T")
#: The longest a bucket call may take before the SQS request fails (a retryable 500).
BUCKET_TIMEOUT = 10.0


def _on(loop: asyncio.AbstractEventLoop, call: Coroutine[Any, Any, T]) -> T:
    """Run ``call`` on ``loop`` from a worker thread, and wait for its answer."""
    return asyncio.run_coroutine_threadsafe(call, loop).result(BUCKET_TIMEOUT)


class BucketDeadLetters:
    """The dead-letter store of :class:`~pizzabus.awsapi.backends.DeadLetters`, over the
    cluster's bucket (what ``pizzabus dlq`` reads on any gateway)."""

    def __init__(self, bucket: KeyValue, loop: asyncio.AbstractEventLoop) -> None:
        self._bucket = bucket
        self._loop = loop

    def list(self) -> list[DeadLetter]:
        return _on(self._loop, read_letters(self._bucket))

    def get(self, letter_id: str) -> DeadLetter | None:
        return _on(self._loop, read_letter(self._bucket, letter_id))

    def remove(self, letter_id: str) -> bool:
        async def remove() -> bool:
            if await read_letter(self._bucket, letter_id) is None:
                return False
            await self._bucket.delete(letter_id)
            return True

        return _on(self._loop, remove())


class BucketReceipts:
    """:class:`~pizzabus.awsapi.backends.Receipts` every gateway shares: one entry per received
    letter, ``{"until": …, "count": …}``, claimed compare-and-set."""

    def __init__(self, bucket: KeyValue, loop: asyncio.AbstractEventLoop) -> None:
        self._bucket = bucket
        self._loop = loop

    async def _read(self, letter_id: str) -> tuple[dict[str, Any], int]:
        """The receipt and its revision (an empty receipt at revision 0 when there is none)."""
        try:
            entry = await self._bucket.get(letter_id)
        except NoEntry as missing:
            # A deleted receipt is rewritten on top of its tombstone's revision.
            deleted = getattr(missing, "entry", None)
            return {}, (deleted.revision or 0) if deleted is not None else 0
        except InvalidKeyError:
            return {}, 0
        return json.loads(entry.value or b"{}"), entry.revision or 0

    def hidden_until(self, letter_id: str) -> float:
        receipt, _ = _on(self._loop, self._read(letter_id))
        return float(receipt.get("until", 0.0))

    def claim(self, letter_id: str, now: float, until: float) -> int | None:
        async def claim() -> int | None:
            receipt, revision = await self._read(letter_id)
            if receipt.get("until", 0.0) > now:
                return None
            count = int(receipt.get("count", 0)) + 1
            value = json.dumps({"until": until, "count": count}).encode()
            try:
                await self._bucket.update(letter_id, value, last=revision)
            except KeyWrongLastSequenceError:
                return None  # another receive claimed it first
            return count

        return _on(self._loop, claim())

    def forget(self, letter_id: str) -> None:
        async def forget() -> None:
            with contextlib.suppress(NoEntry, InvalidKeyError):
                await self._bucket.delete(letter_id)

        _on(self._loop, forget())
