"""Messages a cluster sends through its nats-server per order, by kind.

An observer subscribes to ``>`` on the cluster's own nats-server and counts every message the
server routes (publishes, JetStream API requests and their replies, messages pulled by
consumers, acks), classified by subject. It counts an idle period first (pull requests that
expire, fault-plan polls) and subtracts that rate, so what is left is the orders' own traffic.
The observer adds work to nats-server: run it apart from the CPU and latency measurements.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

#: Subject prefixes, most specific first, and the kind each names.
KINDS: tuple[tuple[str, str], ...] = (
    ("$JS.ACK.", "ack"),
    ("$JS.API.CONSUMER.MSG.NEXT.", "pull request"),
    ("$JS.API.", "jetstream api"),
    ("$KV.", "kv"),
    ("_INBOX.", "reply"),
    ("pizzabus.events.", "event publish"),
    ("pizzabus.deliver.", "delivery publish"),
    ("pizzabus.invoke.", "invoke request"),
    ("pizzabus.push.", "push request"),
)


def kind_of(subject: str, reply: str = "") -> str:
    """The kind of message a subject carries (``other`` when none matches). A message that
    JetStream hands to a consumer keeps its stored subject; its reply subject (where its ack
    goes) tells it apart from the publish that stored it."""
    if reply.startswith("$JS.ACK."):
        return "pulled message"
    return next((kind for prefix, kind in KINDS if subject.startswith(prefix)), "other")


class Observer:
    """Counts the messages of one nats-server, on a thread with its own event loop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Observer:
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError(f"could not subscribe to > on {self.url}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._observe())
        finally:
            self._loop.close()

    async def _observe(self) -> None:
        import nats

        self._stop = asyncio.Event()
        nc = await nats.connect(self.url, name="pizzabus-bench-observer")

        async def seen(message: Any) -> None:
            with self._lock:
                self.counts[kind_of(message.subject, message.reply)] += 1

        # A wildcard subscription also sees the JetStream API and the inboxes: the server
        # routes both like any subject of the account.
        await nc.subscribe(">", cb=seen, pending_msgs_limit=1_000_000)
        await nc.flush()
        self._ready.set()
        await self._stop.wait()
        await nc.close()


def per_order(url: str, load: Callable[[], int], idle_seconds: float = 3.0) -> dict[str, Any]:
    """Messages per order by kind while ``load()`` runs (it answers how many orders it placed),
    less the idle rate measured for ``idle_seconds`` before it."""
    with Observer(url) as observer:
        started = time.monotonic()
        time.sleep(idle_seconds)
        idle = observer.snapshot()
        idle_elapsed = time.monotonic() - started
        started = time.monotonic()
        orders = load()
        time.sleep(1.0)  # the last orders' messages, and their acks
        during = observer.snapshot() - idle
        elapsed = time.monotonic() - started
    if not orders:
        return {"orders": 0}
    by_kind = {
        kind: round(max(0.0, during[kind] - idle[kind] * elapsed / idle_elapsed) / orders, 2)
        for kind in sorted(set(during) | set(idle))
    }
    return {
        "orders": orders,
        "per_order": round(sum(by_kind.values()), 1),
        "by_kind": by_kind,
        "idle_per_s": round(sum(idle.values()) / idle_elapsed, 1),
    }
