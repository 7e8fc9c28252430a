"""Random ids shaped as AWS shapes them (request ids, event ids), cheaply.

``uuid.uuid4()`` reads ``os.urandom`` on every call: a system call that also lets go of the
GIL, so on the event loop's thread each id is a chance for a handler thread to take the
interpreter away for a while. These ids only need to be unique, not unpredictable, so they come
from a generator seeded once from ``os.urandom``.
"""

from __future__ import annotations

import random

_bits = random.Random().getrandbits  # seeded from os.urandom


def uuid4() -> str:
    """A random (version 4, RFC 4122 variant) UUID as text: ``3f0c…-…``."""
    n = (_bits(128) & ~(0xF000 << 64 | 0xC000 << 48)) | (0x4000 << 64 | 0x8000 << 48)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def token(size: int) -> bytes:
    """``size`` random bytes."""
    return _bits(size * 8).to_bytes(size, "big")
