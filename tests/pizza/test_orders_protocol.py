"""The lease and idempotency protocol of ``pizza/functions/orders.py`` (§2.4–2.6), driven
through chosen interleavings with a fake clock.

Every table and management call is a step the test schedules, so each race below happens the
same way on every run. What must hold, whatever the interleaving: each socket receives each
stage of its order once, in stage order, catch-up first; a redelivered stage changes nothing.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pizzabus.pizza.functions import orders
from pizzabus.pizza.system import SYSTEM
from pizzabus.sdk.dynamodb import DynamoDBResource
from pizzabus.tables import MemoryTableStore

from .interleaving import Gated, Interleaving

STAGES = list(orders.STAGES)
#: A start time far from zero, so "no lease" (0) and "lease until now + 15 s" never meet.
T0 = 1_800_000_000.0


class FakeTime:
    """The ``time`` module as ``orders`` uses it: a clock that moves only when told."""

    def __init__(self) -> None:
        self.now = T0

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Management:
    """The management API: records each socket's frames; a socket in ``connecting`` answers
    410 as API Gateway does until its handshake completes, one in ``gone`` answers 410 for
    good, one in ``broken`` fails with a 500."""

    frames: dict[str, list[str]] = field(default_factory=dict)
    connecting: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)
    broken: set[str] = field(default_factory=set)

    def post_to_connection(self, *, Data: bytes, ConnectionId: str) -> dict[str, Any]:
        if ConnectionId in self.connecting or ConnectionId in self.gone:
            raise _error("GoneException", 410)
        if ConnectionId in self.broken:
            raise _error("InternalServerError", 500)
        stage = json.loads(Data)["item"]["eventtype"]
        self.frames.setdefault(ConnectionId, []).append(stage)
        return {}


def _error(code: str, status: int) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": code},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "PostToConnection")  # type: ignore[arg-type]


class Lab:
    """The two tables and the management API, gated by one :class:`Interleaving`."""

    def __init__(self, clock: FakeTime) -> None:
        store = MemoryTableStore()
        for table in SYSTEM.tables:
            store.create_table(table)
        dynamodb = DynamoDBResource(store)
        self.clock = clock
        self.schedule = Interleaving()
        self.management = Management()
        self.raw_connections = dynamodb.Table("websocket_connections")
        self.raw_timeline = dynamodb.Table("order_timeline")
        self.connections = Gated(self.raw_connections, "connections", self.schedule)
        self.timeline = Gated(self.raw_timeline, "timeline", self.schedule)
        self.gated_management = Gated(self.management, "management", self.schedule)

    def connect(self, connection_id: str, order_id: str = "o1", age: float = 60) -> None:
        """A connection that completed its handshake ``age`` seconds ago."""
        now = self.clock.now
        self.clock.now = now - age
        orders.remember_connection(self.raw_connections, order_id, connection_id)
        self.clock.now = now

    def stage_event(self, name: str, order_id: str = "o1") -> None:
        """Actor ``name``: receive_events handling a stage event."""
        stage = name.split("#", maxsplit=1)[0]
        detail = {"item": {"order_id": order_id, "eventtype": stage, "pizza": "margherita"}}

        def work() -> None:
            recorded = orders.record_stage(self.timeline, json.loads(json.dumps(detail)))
            orders.push_pending(self.connections, self.timeline, self.gated_management, recorded)

        self.schedule.spawn(name, work)

    def sync(self, name: str, connection_id: str) -> None:
        """Actor ``name``: receive_events handling ``{"action": "sync"}`` from a socket."""

        def work() -> None:
            order_id = orders.order_of_connection(self.connections, connection_id)
            assert order_id is not None
            orders.push_pending(self.connections, self.timeline, self.gated_management, order_id)

        self.schedule.spawn(name, work)

    def catch_up(self, name: str, connection_id: str, order_id: str = "o1") -> None:
        """Actor ``name``: receive_events handling the ``connected`` event of a new socket."""
        detail = orders.connected_detail(order_id, connection_id)

        def work() -> None:
            orders.catch_up(self.connections, self.timeline, self.gated_management, detail)

        self.schedule.spawn(name, work)

    def record(self, *stages: str, order_id: str = "o1") -> None:
        """Stages already in the timeline (their pushes long done or lost)."""
        for stage in stages:
            detail = {"item": {"order_id": order_id, "eventtype": stage}}
            orders.record_stage(self.raw_timeline, detail)

    def frames(self, connection_id: str) -> list[str]:
        return self.management.frames.get(connection_id, [])

    def connection(self, connection_id: str, order_id: str = "o1") -> dict[str, Any] | None:
        key = {"order_id": order_id, "connection_id": connection_id}
        item: dict[str, Any] | None = self.raw_connections.get_item(Key=key).get("Item")
        return item


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(orders, "time", fake)
    return fake


@pytest.fixture
def lab(clock: FakeTime) -> Iterator[Lab]:
    made = Lab(clock)
    yield made
    made.schedule.finish()  # no actor is left blocked behind a failed assertion


# -- two pushes racing on one connection ------------------------------------------------------


def test_a_push_that_finds_the_lease_taken_leaves_the_stages_to_the_holder(lab: Lab) -> None:
    lab.connect("c1")
    lab.stage_event("make_pizza")
    lab.stage_event("cook_pizza")
    s = lab.schedule
    # Both stages are recorded, and both pushes read the connection before either leases it.
    s.until("make_pizza", "connections.put_item")
    s.until("cook_pizza", "connections.put_item")
    s.step("make_pizza")  # make_pizza holds the lease
    s.finish("cook_pizza")  # its lease fails; it re-reads, sees the lease, and leaves
    assert lab.frames("c1") == []
    s.finish("make_pizza")  # the holder sends both stages
    assert lab.frames("c1") == ["make_pizza", "cook_pizza"]
    assert lab.connection("c1")["sent"] == 2  # type: ignore[index]
    assert "lease_until" not in lab.connection("c1")  # type: ignore[operator]


def test_a_stage_recorded_while_the_holder_posts_is_sent_by_the_holder_after_letting_go(
    lab: Lab,
) -> None:
    lab.connect("c1")
    lab.stage_event("make_pizza")
    lab.stage_event("cook_pizza")
    s = lab.schedule
    s.until("make_pizza", "management.post_to_connection")  # leased, about to post stage 1
    s.finish("cook_pizza")  # records stage 2, finds the lease taken, leaves it to the holder
    assert lab.frames("c1") == []
    s.finish("make_pizza")  # looks at the timeline again after letting go
    assert lab.frames("c1") == ["make_pizza", "cook_pizza"]


def test_a_push_that_meets_a_live_lease_sends_nothing_itself(lab: Lab) -> None:
    """The lease is what keeps a second push off the socket while the holder posts."""
    lab.connect("c1")
    lab.record("make_pizza")
    lab.sync("holder", "c1")
    lab.sync("late", "c1")
    s = lab.schedule
    s.until("holder", "management.post_to_connection")  # leased, not yet posted
    s.finish("late")
    assert lab.frames("c1") == []  # without the lease, "late" would have sent make_pizza
    s.finish("holder")
    assert lab.frames("c1") == ["make_pizza"]


# -- a sync racing a stage --------------------------------------------------------------------


def test_a_sync_racing_the_next_stage_sends_catch_up_first_then_the_stage_once(lab: Lab) -> None:
    lab.record("make_pizza", "cook_pizza")
    lab.connect("late", age=0)
    lab.sync("sync", "late")
    lab.stage_event("deliver_pizza")
    s = lab.schedule
    s.until("sync", "timeline.query")  # the sync has found its order, not the timeline yet
    s.until("deliver_pizza", "connections.put_item")  # recorded, about to lease
    s.finish("sync")  # the sync wins the lease and sends all three
    s.finish("deliver_pizza")
    assert lab.frames("late") == ["make_pizza", "cook_pizza", "deliver_pizza"]


# -- a redelivered stage ----------------------------------------------------------------------


def test_a_redelivered_stage_keeps_its_first_record(lab: Lab) -> None:
    lab.record("make_pizza")
    first = lab.raw_timeline.get_item(Key={"order_id": "o1", "seq": 1})["Item"]
    lab.clock.advance(120)
    redelivered = {"item": {"order_id": "o1", "eventtype": "make_pizza", "pizza": "other"}}
    assert orders.record_stage(lab.raw_timeline, redelivered) == "o1"
    assert lab.raw_timeline.get_item(Key={"order_id": "o1", "seq": 1})["Item"] == first


def test_a_stage_delivered_twice_at_once_reaches_the_socket_once(lab: Lab) -> None:
    lab.connect("c1")
    lab.stage_event("make_pizza#1")
    lab.stage_event("make_pizza#2")
    s = lab.schedule
    s.until("make_pizza#1", "timeline.query")  # both recorded (the second one a no-op)...
    s.until("make_pizza#2", "timeline.query")
    s.finish("make_pizza#2", "make_pizza#1")  # ...and both push
    assert lab.frames("c1") == ["make_pizza"]
    assert len(lab.raw_timeline.query(
        KeyConditionExpression="order_id = :o", ExpressionAttributeValues={":o": "o1"}
    )["Items"]) == 1  # fmt: skip


def test_a_stage_after_a_gap_waits_for_the_missing_one(lab: Lab) -> None:
    lab.connect("c1")
    lab.stage_event("cook_pizza")
    lab.schedule.finish()
    assert lab.frames("c1") == []  # make_pizza is missing: nothing is sent out of order
    lab.stage_event("make_pizza")
    lab.schedule.finish()
    assert lab.frames("c1") == ["make_pizza", "cook_pizza"]


# -- 410 while connecting, and a connection gone for good --------------------------------------


def test_a_push_that_meets_410_while_connecting_keeps_the_connection_for_its_sync(
    lab: Lab,
) -> None:
    lab.connect("new", age=0)
    lab.management.connecting.add("new")
    lab.stage_event("make_pizza")
    lab.clock.advance(orders.CONNECT_GRACE_SECONDS - 1)
    lab.schedule.finish()
    assert lab.frames("new") == []
    kept = lab.connection("new")
    assert kept is not None
    assert kept["sent"] == 0
    assert "lease_until" not in kept  # let go: the sync must not wait for a lease to expire
    lab.management.connecting.discard("new")  # the handshake completes; the client syncs
    lab.sync("sync", "new")
    lab.schedule.finish()
    assert lab.frames("new") == ["make_pizza"]


def test_a_410_while_connecting_sends_nothing_after_the_refused_stage(lab: Lab) -> None:
    lab.connect("new", age=0)
    lab.management.connecting.add("new")
    lab.record("make_pizza", "cook_pizza")
    lab.sync("sync", "new")
    lab.schedule.finish()
    assert lab.frames("new") == []
    assert lab.connection("new")["sent"] == 0  # type: ignore[index]


@pytest.mark.parametrize(
    ("age", "kept"),
    [
        pytest.param(0, True, id="just-connected"),
        pytest.param(orders.CONNECT_GRACE_SECONDS - 1, True, id="inside-grace"),
        pytest.param(orders.CONNECT_GRACE_SECONDS, False, id="at-grace"),
        pytest.param(3600, False, id="old"),
    ],
)
def test_a_410_removes_the_connection_only_past_the_connect_grace(
    lab: Lab, age: float, kept: bool
) -> None:
    lab.connect("c1", age=age)
    lab.management.gone.add("c1")
    lab.stage_event("make_pizza")
    lab.schedule.finish()
    assert (lab.connection("c1") is not None) is kept


def test_other_connections_of_the_order_still_get_the_stage_when_one_is_gone(lab: Lab) -> None:
    lab.connect("gone")
    lab.connect("alive")
    lab.management.gone.add("gone")
    lab.stage_event("make_pizza")
    lab.schedule.finish()
    assert lab.frames("alive") == ["make_pizza"]
    assert lab.connection("gone") is None


# -- the lease's lifetime ---------------------------------------------------------------------


def test_a_push_that_failed_holding_the_lease_blocks_others_only_until_it_expires(
    lab: Lab,
) -> None:
    lab.connect("c1")
    lab.management.broken.add("c1")
    lab.stage_event("make_pizza")
    lab.schedule.finish()
    with pytest.raises(ClientError):
        lab.schedule.result("make_pizza")  # the invocation fails: the bus will retry it
    lab.management.broken.clear()
    lab.sync("early", "c1")
    lab.schedule.finish()
    assert lab.frames("c1") == []  # the lease still stands
    lab.clock.advance(orders.LEASE_SECONDS + 1)
    lab.sync("after", "c1")
    lab.schedule.finish()
    assert lab.frames("c1") == ["make_pizza"]


def test_a_disconnect_while_a_push_holds_the_lease_stays_a_disconnect(lab: Lab) -> None:
    lab.connect("c1")
    lab.record("make_pizza")
    lab.sync("push", "c1")
    lab.schedule.until("push", "management.post_to_connection")
    orders.forget_connection(lab.raw_connections, "c1")  # $disconnect
    lab.schedule.finish()
    lab.schedule.result("push")  # no error: letting go of a deleted item is expected
    assert lab.connection("c1") is None


def test_connections_are_found_by_connection_id_and_forgotten(lab: Lab) -> None:
    lab.connect("c1", order_id="o9")
    assert orders.order_of_connection(lab.raw_connections, "c1") == "o9"
    assert orders.order_of_connection(lab.raw_connections, "c2") is None
    orders.forget_connection(lab.raw_connections, "c1")
    assert orders.order_of_connection(lab.raw_connections, "c1") is None


def test_timeline_of_lists_the_details_in_stage_order(lab: Lab) -> None:
    lab.record("cook_pizza", "make_pizza")
    assert [d["item"]["eventtype"] for d in orders.timeline_of(lab.raw_timeline, "o1")] == [
        "make_pizza",
        "cook_pizza",
    ]
    assert orders.timeline_of(lab.raw_timeline, "unknown") == []


# -- whatever the interleaving ----------------------------------------------------------------


@pytest.mark.parametrize("seed", range(60))
def test_every_interleaving_gives_each_socket_each_stage_once_in_order(lab: Lab, seed: int) -> None:
    """Four stage events (one delivered twice), an early socket and a late socket that syncs,
    scheduled at random from a fixed seed: the same 60 interleavings on every run."""
    rng = random.Random(seed)
    lab.connect("early")
    lab.connect("late", age=0)
    actors = [*STAGES, "cook_pizza#again"]
    rng.shuffle(actors)
    for stage in actors:
        lab.stage_event(stage)
    lab.sync("sync", "late")
    lab.schedule.shuffle(rng)
    for name in [*actors, "sync"]:
        lab.schedule.result(name)
    assert lab.frames("early") == STAGES
    assert lab.frames("late") == STAGES


# -- the catch-up of a new connection (its `connected` event) ---------------------------------


def test_the_connected_event_names_its_order_and_connection() -> None:
    detail = orders.connected_detail("o1", "c1")
    assert detail == {"item": {"order_id": "o1", "eventtype": "connected"}, "connection_id": "c1"}
    assert orders.is_connected_event(detail) is True
    assert orders.is_connected_event({"item": {"order_id": "o1", "eventtype": "make_pizza"}}) is (
        False
    )
    assert orders.is_connected_event({"item": {"order_id": "o1"}}) is False
    assert orders.is_connected_event({}) is False


def test_a_connection_opened_before_its_order_has_nothing_to_catch_up(lab: Lab) -> None:
    lab.connect("c1")
    lab.catch_up("connected", "c1")
    lab.schedule.finish()
    lab.schedule.result("connected")
    assert lab.schedule.trace == [("connected", "start"), ("connected", "timeline.query")]
    assert lab.frames("c1") == []


def test_a_late_connection_catches_up_on_every_stage_in_order(lab: Lab) -> None:
    lab.record("make_pizza", "cook_pizza")
    lab.connect("late", age=0)
    lab.catch_up("connected", "late")
    lab.schedule.finish()
    lab.schedule.result("connected")
    assert lab.frames("late") == ["make_pizza", "cook_pizza"]
    assert lab.connection("late")["sent"] == 2  # type: ignore[index]


def test_a_catch_up_stops_at_a_gap_and_is_done_with_what_precedes_it(lab: Lab) -> None:
    lab.record("make_pizza", "deliver_pizza")
    lab.connect("late", age=0)
    lab.catch_up("connected", "late")
    lab.schedule.finish()
    lab.schedule.result("connected")  # stage 2's own push will send 2 and 3
    assert lab.frames("late") == ["make_pizza"]


def test_a_catch_up_of_a_socket_still_opening_fails_so_that_the_bus_retries_it(lab: Lab) -> None:
    lab.record("make_pizza", "cook_pizza")
    lab.connect("new", age=0)
    lab.management.connecting.add("new")
    lab.catch_up("connected", "new")
    lab.schedule.finish()
    with pytest.raises(orders.NotCaughtUp) as error:
        lab.schedule.result("connected")
    assert str(error.value) == (
        "connection new has 0 of the 2 stages of its order; it is still opening, or another "
        "push is sending them"
    )
    lab.management.connecting.discard("new")  # the handshake completes; the bus retries
    lab.catch_up("retried", "new")
    lab.schedule.finish()
    lab.schedule.result("retried")
    assert lab.frames("new") == ["make_pizza", "cook_pizza"]


def test_a_catch_up_that_meets_another_push_holding_the_lease_is_retried(lab: Lab) -> None:
    lab.record("make_pizza")
    lab.connect("late", age=0)
    lab.sync("holder", "late")
    lab.catch_up("connected", "late")
    lab.schedule.until("holder", "management.post_to_connection")  # leased, not yet posted
    lab.schedule.finish("connected")
    with pytest.raises(orders.NotCaughtUp, match="has 0 of the 1 stages"):
        lab.schedule.result("connected")
    lab.schedule.finish("holder")
    assert lab.frames("late") == ["make_pizza"]


@pytest.mark.parametrize(
    ("connected", "gone"),
    [
        pytest.param(False, False, id="closed-before-its-catch-up"),
        pytest.param(True, True, id="gone-past-the-grace"),
    ],
)
def test_a_catch_up_of_a_connection_that_is_no_more_is_done(
    lab: Lab, connected: bool, gone: bool
) -> None:
    lab.record("make_pizza")
    if connected:
        lab.connect("c1", age=orders.CONNECT_GRACE_SECONDS)
    if gone:
        lab.management.gone.add("c1")
    lab.catch_up("connected", "c1")
    lab.schedule.finish()
    lab.schedule.result("connected")
    assert lab.frames("c1") == []
    assert lab.connection("c1") is None
