"""A pull consumer's messages as a feed: pull requests kept outstanding for as many messages as
the consumer has room for, each message handed on as it arrives.

nats-py's ``fetch`` costs, for every batch, a ``no_wait`` request, then a lingering one, and a
status message ending each; under load that is about one pull request and one status per
delivery, and a coroutine waiting on each step. Here one long-lived request (``expires``
seconds) asks for every free slot at once, more are sent only as slots free up, and messages
arrive on a subscription callback.

Credits are counted per request, oldest first, as the server fills them: a message uses one of
the oldest request's; a status (408 expired, 409 leadership change or too many waiting) ends
the oldest request. A request that never answered (its connection dropped it, a node died) is
forgotten once past its expiry and a margin, so a miscount heals by itself instead of stalling
the consumer.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

log = logging.getLogger("pizzabus.distributed")

#: How long a pull request lingers on the server.
EXPIRES = 5.0
#: Past its expiry, how long a request that never answered is still counted.
MARGIN = 1.0
#: The status header nats-server sets on a pull request's end.
STATUS = "Status"


@dataclass
class _Request:
    remaining: int
    deadline: float


class PullFeed:
    """Feeds a durable pull consumer's messages to ``deliver``, at most ``room()`` at a time.

    ``room()`` answers how many more messages the caller can take now; call :meth:`top_up`
    whenever that grows (a message finished). A new request is sent once the room not asked
    for reaches ``batch`` (or nothing is asked for at all): under load that is one request per
    ``batch`` messages, not one per message.
    """

    def __init__(
        self,
        nc: Client,
        stream: str,
        consumer: str,
        deliver: Callable[[Msg], None],
        room: Callable[[], int],
        *,
        batch: int = 1,
        expires: float = EXPIRES,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.nc = nc
        self.deliver = deliver
        self.room = room
        self.batch = max(1, batch)
        self.expires = expires
        self._clock = clock or asyncio.get_running_loop().time
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = nc.new_inbox()
        self._requests: deque[_Request] = deque()
        self._subscription: Subscription | None = None
        self._sending = False
        #: Pull requests sent so far (the benchmark's and the tests' count).
        self.requests_sent = 0

    @property
    def outstanding(self) -> int:
        """Messages asked for and not yet received."""
        return sum(r.remaining for r in self._requests)

    async def start(self) -> None:
        self._subscription = await self.nc.subscribe(
            self._inbox, cb=self._received, pending_msgs_limit=-1, pending_bytes_limit=-1
        )
        await self.top_up()

    async def run(self) -> None:
        """Forget requests that never answered, and ask again, until cancelled."""
        await self.start()
        reconnects = self.nc.stats["reconnects"]
        while True:
            await asyncio.sleep(MARGIN)
            if self.nc.stats["reconnects"] != reconnects:
                # A new connection: the server dropped the old one's requests.
                reconnects = self.nc.stats["reconnects"]
                self._requests.clear()
            self._forget_stale()
            await self.top_up()

    async def top_up(self) -> None:
        """Ask for the room not yet asked for (one request for all of it)."""
        outstanding = self.outstanding
        wanted = self.room() - outstanding
        if wanted <= 0 or (outstanding and wanted < self.batch):
            return
        if self._sending or not self.nc.is_connected:
            return
        self._sending = True
        try:
            request = {"batch": wanted, "expires": int(self.expires * 1e9)}
            self._requests.append(_Request(wanted, self._clock() + self.expires + MARGIN))
            self.requests_sent += 1
            await self.nc.publish(self._subject, json.dumps(request).encode(), reply=self._inbox)
        except Exception as error:
            log.warning("pull request to %s failed (%s); retrying", self._subject, error)
            self._requests.pop()
        finally:
            self._sending = False

    def _forget_stale(self) -> None:
        now = self._clock()
        while self._requests and self._requests[0].deadline < now:
            self._requests.popleft()

    async def _received(self, message: Msg) -> None:
        status = (message.headers or {}).get(STATUS)
        if status:
            # 408: the oldest request expired; 409: it was ended (leadership change, too many
            # waiting, consumer gone); 100 would be a heartbeat (none is asked for).
            if status != "100" and self._requests:
                self._requests.popleft()
            if status not in ("100", "408"):
                log.info("pull request to %s ended: %s", self._subject, status)
            await self.top_up()
            return
        if self._requests:
            oldest = self._requests[0]
            oldest.remaining -= 1
            if oldest.remaining <= 0:
                self._requests.popleft()
        self.deliver(message)

    async def close(self) -> None:
        if self._subscription is not None:
            try:
                await self._subscription.unsubscribe()
            except Exception as error:  # closing anyway: the connection may be gone
                log.debug("unsubscribing the feed failed (%s)", error)
