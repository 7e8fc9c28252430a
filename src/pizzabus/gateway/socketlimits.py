"""What one WebSocket client may hold of the server: memory, time, and new connections.

API Gateway's limits are the model (a 10 minute idle timeout, a 2 hour maximum connection age,
32 KB frames and 128 KB messages, a cap on new connections per second); a slow consumer is
treated as NATS treats one: what waits for it is bounded, and a socket whose sends stall is
closed rather than allowed to hold memory.

- :class:`SocketLimits`: the limits, with their defaults (``pizzabus serve`` flags set them).
- :class:`OutboxBudget`: bytes queued for sending, per socket and for all sockets together.
- :class:`ConnectionRate`: a token bucket on new connections.

Frame and message sizes are enforced by the WebSocket library while it reads (see
``cli/serve.py``), before a message is buffered whole.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Final, Protocol

from pizzabus.clock import Clock

#: API Gateway's limits on what a client sends.
MAX_FRAME_BYTES: Final = 32 * 1024
MAX_MESSAGE_BYTES: Final = 128 * 1024


@dataclass(frozen=True)
class SocketLimits:
    """Bounds on each WebSocket connection, and on all of them together."""

    #: Bytes waiting to be sent to one socket before posts to it are refused (429).
    max_outbox_bytes: int = 1024 * 1024
    #: Bytes waiting to be sent to all sockets together before posts are refused (429).
    max_total_outbox_bytes: int = 64 * 1024 * 1024
    #: A send that has not completed after this many seconds closes the socket (1008).
    send_timeout: float = 30.0
    #: Seconds without a message either way before the socket is closed (1001), as API Gateway.
    idle_timeout: float = 600.0
    #: Seconds after which any socket is closed (1001), as API Gateway's 2 hours.
    max_age: float = 7200.0
    #: New connections per second (a token bucket); more are refused with 429. API Gateway's
    #: default quota is 500 per account; here every order opens a socket, so the default is
    #: the order rate the embedded runtime aims at (2,000/s), not API Gateway's.
    connections_per_second: float = 2000.0
    #: How many new connections may come at once before the rate applies.
    connection_burst: int = 4000
    #: The kernel's send buffer of each WebSocket (SO_SNDBUF). Left to autotuning, loopback
    #: grows it to 4 MiB per socket: a client that never reads would hold that much kernel
    #: memory, and its sends would stall (and be noticed) only once all of it is full.
    send_buffer_bytes: int = 256 * 1024
    #: How often the timeouts above are checked, in seconds.
    check_interval: float = 1.0

    def __post_init__(self) -> None:
        for name in (
            "max_outbox_bytes",
            "max_total_outbox_bytes",
            "send_timeout",
            "idle_timeout",
            "max_age",
            "connections_per_second",
            "connection_burst",
            "send_buffer_bytes",
            "check_interval",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")


class Outbox(Protocol):
    """What the budget keeps per socket."""

    queued_bytes: int


class OutboxBudget:
    """Bytes queued for sending: each socket's, and the total (from any thread)."""

    def __init__(self, limits: SocketLimits) -> None:
        self.limits = limits
        self.total = 0
        self._lock = threading.Lock()

    def reserve(self, outbox: Outbox, size: int) -> str | None:
        """Reserve ``size`` bytes of ``outbox``; None when reserved, otherwise why not (the
        caller refuses the message)."""
        limits = self.limits
        with self._lock:
            if outbox.queued_bytes + size > limits.max_outbox_bytes:
                return (
                    f"{outbox.queued_bytes} bytes are waiting to be sent to it (at most "
                    f"{limits.max_outbox_bytes}); the client is not reading"
                )
            if self.total + size > limits.max_total_outbox_bytes:
                return (
                    f"{self.total} bytes are waiting to be sent to all connections (at most "
                    f"{limits.max_total_outbox_bytes}); clients are not reading"
                )
            outbox.queued_bytes += size
            self.total += size
            return None

    def release(self, outbox: Outbox, size: int) -> None:
        with self._lock:
            outbox.queued_bytes -= size
            self.total -= size


class ConnectionRate:
    """A token bucket: ``burst`` connections at once, then ``per_second`` (loop thread)."""

    def __init__(self, limits: SocketLimits, clock: Clock) -> None:
        self.rate = limits.connections_per_second
        self.burst = float(limits.connection_burst)
        self.clock = clock
        self._tokens = self.burst
        self._at = clock.monotonic()
        self.refused = 0

    def admit(self) -> bool:
        """Take a token for a new connection; False (counted) when there is none."""
        now = self.clock.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1.0:
            self.refused += 1
            return False
        self._tokens -= 1.0
        return True
