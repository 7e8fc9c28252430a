"""Who the local system pretends to be on AWS."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuntimeIdentity:
    """The account and region the local system pretends to run in."""

    account: str = "000000000000"
    region: str = "us-east-1"
