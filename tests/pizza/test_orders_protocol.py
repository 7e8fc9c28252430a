"""The lease and idempotency protocol of ``pizza/functions/orders.py`` (§2.4–2.6), driven
through chosen interleavings with a fake clock.

Every table and management call is a step the test schedules, so each race below happens the
same way on every run. What must hold, whatever the interleaving: each socket receives each
stage of its order once, in stage order, catch-up first; a redelivered stage changes nothing.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
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

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)


class Outage:
    """A table that PostgreSQL's restart makes unreachable: while ``down``, each call fails
    before it is applied; while ``losing_replies``, each write is applied and then fails (the
    connection broke after the commit, before the answer). ``chance`` with ``rng`` fails calls
    at random, half of the writes after applying them."""

    def __init__(self) -> None:
        self.down = False
        self.losing_replies = False
        self.chance = 0.0
        self.rng = random.Random(0)
        self.failures = 0

    def fail(self) -> Any:
        self.failures += 1
        raise _error("ServiceUnavailable", 503)

    def wrap(self, table: Any) -> Any:
        return _Unreliable(table, self)


_WRITES = frozenset({"put_item", "delete_item", "update_item"})


class _Unreliable:
    def __init__(self, table: Any, outage: Outage) -> None:
        self._table = table
        self._outage = outage

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._table, attribute)
        if not callable(value):
            return value
        write = attribute in _WRITES

        def call(*args: Any, **kwargs: Any) -> Any:
            outage = self._outage
            if outage.down:
                return outage.fail()
            if outage.chance and outage.rng.random() < outage.chance:
                if write and outage.rng.random() < 0.5:
                    value(*args, **kwargs)  # applied; its answer is lost
                return outage.fail()
            if outage.losing_replies and write:
                value(*args, **kwargs)
                return outage.fail()
            return value(*args, **kwargs)

        return call


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
        self.outage = Outage()
        unreliable_connections = self.outage.wrap(self.raw_connections)
        self.connections = Gated(unreliable_connections, "connections", self.schedule)
        self.timeline = Gated(self.outage.wrap(self.raw_timeline), "timeline", self.schedule)
        self.gated_management = Gated(self.management, "management", self.schedule)
        self.retry_delay = 1.0

    def connect(self, connection_id: str, order_id: str = "o1", age: float = 60) -> None:
        """A connection that completed its handshake ``age`` seconds ago."""
        now = self.clock.now
        self.clock.now = now - age
        orders.remember_connection(self.raw_connections, order_id, connection_id)
        self.clock.now = now

    def stage_event(
        self, name: str, order_id: str = "o1", event_id: str | None = None, attempts: int = 1
    ) -> None:
        """Actor ``name``: receive_events handling a stage event (whose id is ``name`` unless
        given: ``make_pizza#2`` is another event of the same stage, as a retried stage function
        puts), tried up to ``attempts`` times as the bus retries a failed invocation."""
        stage = name.split("#", maxsplit=1)[0]
        detail = {"item": {"order_id": order_id, "eventtype": stage, "pizza": "margherita"}}

        def work() -> None:
            recorded = orders.record_stage(self.timeline, json.loads(json.dumps(detail)))
            orders.push_pending(
                self.connections, self.timeline, self.gated_management, recorded, event_id or name
            )

        self.schedule.spawn(name, self._retried(work, attempts))

    def sync(self, name: str, connection_id: str, attempts: int = 1) -> None:
        """Actor ``name``: receive_events handling ``{"action": "sync"}`` from a socket."""

        def work() -> None:
            order_id = orders.order_of_connection(self.connections, connection_id)
            assert order_id is not None
            orders.push_pending(self.connections, self.timeline, self.gated_management, order_id)

        self.schedule.spawn(name, self._retried(work, attempts))

    def _retried(self, work: Callable[[], None], attempts: int) -> Callable[[], None]:
        """``work``, run again after a failure, ``retry_delay`` later (the bus backs off)."""

        def run() -> None:
            for attempt in range(1, attempts + 1):
                try:
                    return work()
                except (ClientError, orders.LeaseHeld):
                    if attempt == attempts:
                        raise
                    self.clock.advance(self.retry_delay)

        return run

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


def test_a_push_whose_post_fails_lets_go_of_the_lease_and_fails_for_the_bus_to_retry(
    lab: Lab,
) -> None:
    lab.connect("c1")
    lab.management.broken.add("c1")
    lab.stage_event("make_pizza")
    lab.schedule.finish()
    with pytest.raises(ClientError):
        lab.schedule.result("make_pizza")  # the invocation fails: the bus will retry it
    assert "lease_until" not in lab.connection("c1")  # type: ignore[operator]
    lab.management.broken.clear()
    lab.sync("now", "c1")  # no lease to wait for
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


# -- the table unreachable mid-push (PostgreSQL restarting) ------------------------------------


def _holder_posted_and_left_cook_pizza_to_it(lab: Lab) -> None:
    """make_pizza holds c1's lease and has posted; cook_pizza, recorded meanwhile, was left to
    it. make_pizza is about to let go."""
    lab.connect("c1")
    lab.stage_event("make_pizza")
    lab.stage_event("cook_pizza")
    s = lab.schedule
    s.until("make_pizza", "management.post_to_connection")
    s.finish("cook_pizza")
    s.step("make_pizza")
    assert s.waiting_at("make_pizza") == "connections.put_item"
    assert lab.frames("c1") == ["make_pizza"]


def test_a_holder_whose_release_meets_an_unreachable_table_lets_go_once_it_is_back(
    lab: Lab,
) -> None:
    """The `delivered` a socket missed in the PostgreSQL-restart test: the holder's release
    failed, and the stage left to it meanwhile was never sent."""
    _holder_posted_and_left_cook_pizza_to_it(lab)
    s = lab.schedule
    lab.outage.down = True
    s.step("make_pizza")  # the release fails...
    assert s.waiting_at("make_pizza") == "connections.put_item"  # ...and is tried again
    s.step("make_pizza")
    lab.outage.down = False
    s.finish("make_pizza")
    s.result("make_pizza")
    assert lab.frames("c1") == ["make_pizza", "cook_pizza"]
    assert lab.connection("c1")["sent"] == 2  # type: ignore[index]
    assert "lease_until" not in lab.connection("c1")  # type: ignore[operator]


def test_a_release_written_but_unanswered_is_recognized_and_the_holder_looks_again(
    lab: Lab,
) -> None:
    _holder_posted_and_left_cook_pizza_to_it(lab)
    s = lab.schedule
    lab.outage.losing_replies = True
    s.step("make_pizza")  # released, but the answer is lost: it tries again
    lab.outage.losing_replies = False
    s.finish("make_pizza")  # its condition fails, and it finds its own release written
    s.result("make_pizza")
    assert lab.frames("c1") == ["make_pizza", "cook_pizza"]


def test_a_lease_written_but_unanswered_is_let_go_before_the_push_fails(lab: Lab) -> None:
    lab.connect("c1")
    lab.stage_event("make_pizza")
    s = lab.schedule
    s.until("make_pizza", "connections.put_item")
    lab.outage.losing_replies = True
    s.step("make_pizza")  # the lease is written; its answer is lost
    lab.outage.losing_replies = False
    s.finish("make_pizza")
    with pytest.raises(ClientError):
        s.result("make_pizza")  # it fails, for the bus to retry...
    assert "lease_until" not in lab.connection("c1")  # type: ignore[operator]  # ...let go
    lab.sync("now", "c1")
    lab.schedule.finish()
    assert lab.frames("c1") == ["make_pizza"]


def test_the_bus_retry_of_a_push_that_could_not_let_go_takes_its_lease_over(lab: Lab) -> None:
    lab.connect("c1")
    lab.stage_event("make_pizza")
    lab.stage_event("cook_pizza")
    s = lab.schedule
    s.until("make_pizza", "connections.put_item")
    lab.outage.losing_replies = True
    s.step("make_pizza")  # the lease is written; its answer is lost
    lab.outage.losing_replies = False
    s.finish("cook_pizza")  # recorded, and left to make_pizza
    lab.outage.down = True  # for longer than make_pizza tries to let go
    s.finish("make_pizza")
    with pytest.raises(ClientError):
        s.result("make_pizza")
    lab.outage.down = False
    assert lab.connection("c1")["lease_until"] > lab.clock.now  # type: ignore[index]
    assert lab.frames("c1") == []
    lab.sync("other", "c1")  # another push does not take the lease over...
    s.finish("other")
    with pytest.raises(orders.LeaseHeld):
        s.result("other")  # ...but fails, for the bus to retry it once the lease runs out
    lab.stage_event("make_pizza#retry", event_id="make_pizza")  # the bus retries the event
    s.finish()
    assert lab.frames("c1") == ["make_pizza", "cook_pizza"]
    assert "lease_until" not in lab.connection("c1")  # type: ignore[operator]


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


@pytest.mark.parametrize("seed", range(40))
def test_every_interleaving_with_table_failures_still_gives_each_stage_once_in_order(
    lab: Lab, seed: int
) -> None:
    """As above, with one table call in five failing, half of the failed writes applied with
    their answer lost (PostgreSQL restarting), and each failed invocation retried by the bus."""
    rng = random.Random(seed)
    lab.outage.rng = random.Random(seed)
    lab.outage.chance = 0.2
    # Each actor's backoff moves the one clock all share; kept short, so a lease never runs
    # out under a holder that is merely not scheduled (a lease bounds a push's real time).
    lab.retry_delay = 0.01
    lab.connect("early")
    lab.connect("late", age=0)
    actors = [*STAGES, "cook_pizza#again"]
    rng.shuffle(actors)
    for stage in actors:
        lab.stage_event(stage, attempts=50)
    lab.sync("sync", "late")  # a client's sync is not retried: it may fail
    lab.schedule.shuffle(rng)
    for name in actors:
        lab.schedule.result(name)
    assert lab.outage.failures
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
