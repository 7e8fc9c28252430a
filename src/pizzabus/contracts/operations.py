"""What the admin API (``/_pizzabus/``) can ask of a running system, whichever runtime."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol, TypeAlias, TypeVar

T = TypeVar("T")
#: An answer now, or (a runtime whose answers come from the network) an awaitable of it.
Answer: TypeAlias = T | Awaitable[T]


class Operations(Protocol):
    """Stats, dead letters, replays and faults of a running system (the admin API awaits
    any answer that is awaitable)."""

    def stats(self) -> Answer[dict[str, Any]]: ...

    def dead_letters(self) -> Answer[list[dict[str, Any]]]: ...

    def dead_letter(self, letter_id: str) -> Answer[dict[str, Any]]: ...

    async def redrive(self, letter_ids: list[str] | None) -> dict[str, Any]: ...

    def purge(self) -> Answer[dict[str, Any]]: ...

    def replays(self) -> Answer[list[dict[str, Any]]]: ...

    def replay(self, name: str) -> Answer[dict[str, Any]]: ...

    def start_replay(self, request: dict[str, Any]) -> Answer[dict[str, Any]]: ...

    def cancel_replay(self, name: str) -> Answer[dict[str, Any]]: ...

    def faults(self) -> Answer[dict[str, Any]]: ...

    def set_faults(self, plan: Any) -> Answer[dict[str, Any]]: ...
