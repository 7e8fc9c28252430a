"""IP addresses and CIDR blocks as event-ruler reads them: two regexes, then ``InetAddress``."""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from pizzabus.patterns.errors import InvalidEventPattern

_V4: Final = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_V6: Final = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")
_JAVA_INT: Final = re.compile(r"[+-]?\d+")

#: An address as (family bits, integer value): (32, n) for IPv4, (128, n) for IPv6.
IpKey = tuple[int, int]


def looks_like_ip(text: str) -> bool:
    """Whether ``text`` passes event-ruler's IPv4 or IPv6 shape check."""
    return _V4.fullmatch(text) is not None or _V6.fullmatch(text) is not None


def parse_ip(text: str) -> IpKey | None:
    """The address ``text`` spells, or ``None`` if it is no IP address to event-ruler."""
    if _V4.fullmatch(text):
        octets = [int(part) for part in text.split(".")]
        if any(octet > 255 for octet in octets):
            return None
        return 32, (octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]
    if _V6.fullmatch(text):
        try:
            address = ipaddress.IPv6Address(text)
        except ValueError:
            return None
        mapped = address.ipv4_mapped
        if mapped is not None:  # Java hands back an Inet4Address for ::ffff:a.b.c.d
            return 32, int(mapped)
        return 128, int(address)
    return None


def parse_cidr(text: str) -> tuple[int, int, int]:
    """``(family bits, low, high)`` of a CIDR block; raises AWS's messages on a bad one."""
    parts = text.split("/")
    while parts and parts[-1] == "":  # Java's split drops trailing empty strings
        parts.pop()
    if len(parts) != 2:
        raise InvalidEventPattern.because("Malformed CIDR, one '/' required")
    ip_text, mask_text = parts
    if not _JAVA_INT.fullmatch(mask_text) or not -(2**31) <= int(mask_text) < 2**31:
        raise InvalidEventPattern.because("Malformed CIDR, mask bits must be an integer")
    mask = int(mask_text)
    if mask < 0:
        raise InvalidEventPattern.because("Malformed CIDR, mask bits must not be negative")
    if not looks_like_ip(ip_text):
        raise InvalidEventPattern.because(f"Nonstandard IP address: {ip_text}")
    address = parse_ip(ip_text)
    if address is None:
        raise InvalidEventPattern.because(f"Invalid IP address: {ip_text}")
    bits, value = address
    if bits == 32 and mask >= 32:
        raise InvalidEventPattern.because("IPv4 mask bits must be < 32")
    if bits == 128 and mask >= 128:
        raise InvalidEventPattern.because("IPv6 mask bits must be < 128")
    host = (1 << (bits - mask)) - 1
    low = value & ~host
    return bits, low, low | host
