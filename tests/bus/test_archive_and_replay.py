"""The archive keeps what its pattern selects; replays re-send a window, and can be cancelled."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from pizzabus.bus.replay import ReplayState
from pizzabus.embedded import EmbeddedSystem, Settings
from pizzabus.errors import NotFoundError, ValidationError
from pizzabus.pizza.system import SYSTEM
from pizzabus.system import Archive


def _system(archive: Archive | None) -> EmbeddedSystem:
    bus = dataclasses.replace(SYSTEM.buses[0], archive=archive)
    return EmbeddedSystem(dataclasses.replace(SYSTEM, buses=(bus,)), Settings(data_dir=None))


def _entry(source: str, eventtype: str = "nothing_routes_this") -> dict[str, str]:
    detail = {"item": {"order_id": "o", "eventtype": eventtype}}
    return {
        "Source": source,
        "DetailType": "eventtype",
        "Detail": json.dumps(detail),
        "EventBusName": "lab_event_bus",
    }


@pytest.fixture
async def filtered() -> AsyncIterator[EmbeddedSystem]:
    system = _system(Archive("only_http", event_pattern={"source": ["lab_http_api"]}))
    async with system.running():
        yield system


async def test_the_archive_keeps_only_the_events_its_pattern_matches(
    filtered: EmbeddedSystem,
) -> None:
    await filtered.router.put_events_async([_entry("lab_http_api"), _entry("somebody_else")])
    archived = filtered.store.archived("lab_event_bus", 0, filtered.clock.now() + 1)
    assert [json.loads(e.payload)["source"] for e in archived] == ["lab_http_api"]


async def test_a_bus_without_an_archive_cannot_be_replayed() -> None:
    system = _system(None)
    async with system.running():
        with pytest.raises(ValidationError, match="has no archive"):
            system.replayer.start("r", "lab_event_bus", 0, system.clock.now())


@pytest.fixture
async def archived() -> AsyncIterator[EmbeddedSystem]:
    system = _system(Archive("all", retention=timedelta(days=1)))
    async with system.running():
        for _ in range(50):
            await system.router.put_events_async([_entry("x")] * 10)
        yield system


async def test_a_running_replay_can_be_cancelled(archived: EmbeddedSystem) -> None:
    replay = archived.replayer.start("big", "lab_event_bus", 0, archived.clock.now())
    while replay.replayed == 0:  # let it start sending
        await asyncio.sleep(0)
    archived.replayer.cancel("big")
    async with asyncio.timeout(30):  # a failure guard only
        while replay.state not in (ReplayState.CANCELLED, ReplayState.COMPLETED):
            await asyncio.sleep(0.01)
    assert replay.state is ReplayState.CANCELLED
    assert replay.replayed < replay.total == 500
    with pytest.raises(ValidationError, match="only a running replay"):
        archived.replayer.cancel("big")


async def test_a_replay_runs_to_completion_and_reports_progress(archived: EmbeddedSystem) -> None:
    replay = archived.replayer.start("all", "lab_event_bus", 0, archived.clock.now())
    async with asyncio.timeout(60):  # a failure guard only
        while replay.state is not ReplayState.COMPLETED:
            await asyncio.sleep(0.01)
    described = replay.describe()
    assert described["State"] == "COMPLETED"
    assert described["EventsReplayed"] == described["EventsTotal"] == 500


@pytest.mark.parametrize(
    ("name", "rules", "error", "says"),
    [
        pytest.param("bad name!", None, ValidationError, "not valid", id="bad-name"),
        pytest.param("r", ["no_rule"], NotFoundError, "no_rule", id="unknown-rule"),
    ],
)
async def test_an_invalid_replay_is_refused_saying_what_to_change(
    archived: EmbeddedSystem,
    name: str,
    rules: list[str] | None,
    error: type[Exception],
    says: str,
) -> None:
    with pytest.raises(error, match=says):
        archived.replayer.start(name, "lab_event_bus", 0, archived.clock.now(), rules)
    with pytest.raises(ValidationError, match="before its end"):
        archived.replayer.start("r2", "lab_event_bus", 10, 5)
