"""The end-to-end suites of the embedded runtime, run unchanged against the distributed one:
the same test bodies, with ``server`` a gateway of a cluster (two gateways, two worker
processes, a private nats-server, a fresh PostgreSQL database).

The fault suites run too: faults set with ``serve --faults`` or through the admin API reach
every worker, which injects them (an order whose cooking failed completes on retry; ``pizzabus
dlq`` lists and redrives through any gateway). So does the overload suite: past
``--max-in-flight`` events and deliveries waiting in JetStream, PutEvents answers
ThrottlingException, and every accepted order completes. Only what is specific to embedded is
left out: where a quick handler runs (inline on the server's loop) has no meaning on a gateway
that runs no handler. Replays on a cluster have their own tests (``test_replay.py``,
``test_replay_e2e.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pizzabus.devservers.nats import NatsServer
from pizzabus.pizza.system import MAX_STAGE_DELAY_MS
from tests.distributed.cluster import running_cluster
from tests.e2e.server import Server
from tests.e2e.test_delivery_guarantees import (
    OVERLOAD_BOUND,
    test_every_order_completes_after_cook_pizza_failed_for_each_of_them,
    test_offered_load_beyond_capacity_is_throttled_and_nothing_accepted_is_lost,
    test_when_cook_pizza_always_fails_each_order_is_dead_lettered_then_redriven,
)
from tests.e2e.test_lab_flow import (
    test_a_bad_body_gets_a_clear_4xx_and_publishes_nothing,
    test_a_forged_later_stage_reaches_no_socket_and_advances_nothing,
    test_a_late_socket_first_receives_what_already_happened,
    test_a_message_no_route_takes_is_answered_forbidden,
    test_a_socket_without_an_order_id_is_refused,
    test_cors_preflight_allows_any_origin_to_post,
    test_fifty_concurrent_orders_all_complete,
    test_one_order_sees_all_four_stages_in_order,
    test_the_management_api_answers_gone_for_an_unknown_connection_to_real_boto3,
    test_the_timeline_of_an_order_is_served_in_stage_order,
    test_two_sockets_on_one_order_both_see_every_stage,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

__all__ = [
    "test_a_bad_body_gets_a_clear_4xx_and_publishes_nothing",
    "test_a_forged_later_stage_reaches_no_socket_and_advances_nothing",
    "test_a_late_socket_first_receives_what_already_happened",
    "test_a_message_no_route_takes_is_answered_forbidden",
    "test_a_socket_without_an_order_id_is_refused",
    "test_cors_preflight_allows_any_origin_to_post",
    "test_every_order_completes_after_cook_pizza_failed_for_each_of_them",
    "test_fifty_concurrent_orders_all_complete",
    "test_offered_load_beyond_capacity_is_throttled_and_nothing_accepted_is_lost",
    "test_one_order_sees_all_four_stages_in_order",
    "test_the_management_api_answers_gone_for_an_unknown_connection_to_real_boto3",
    "test_the_timeline_of_an_order_is_served_in_stage_order",
    "test_two_sockets_on_one_order_both_see_every_stage",
    "test_when_cook_pizza_always_fails_each_order_is_dead_lettered_then_redriven",
]


@pytest.fixture(scope="module")
def server(module_nats_server: NatsServer, module_postgres_dsn: str) -> Iterator[Server]:
    """The gateway the suites talk to (the other gateway and both workers run beside it)."""
    with running_cluster(module_nats_server.url, module_postgres_dsn) as cluster:
        yield cluster.gateways[1]


@pytest.fixture
def quick_dlq(nats_server: NatsServer, postgres_dsn: str) -> Iterator[Server]:
    """A cluster of the lab whose deliveries give up after two retries."""
    system = ("--system", "tests.e2e.test_systems:QUICK_DLQ")
    with running_cluster(nats_server.url, postgres_dsn, 1, 2, *system) as cluster:
        yield cluster.gateways[0]


@pytest.fixture
def faulty_cook(nats_server: NatsServer, postgres_dsn: str, tmp_path: Path) -> Iterator[Server]:
    """A cluster of the lab (AWS's retry policy) whose workers fail every cook_pizza until told
    otherwise: ``serve --faults``, as the embedded suite starts its server."""
    plan = tmp_path / "faults.json"
    plan.write_text(json.dumps({"functions": {"cook_pizza": {"error_rate": 1.0}}}))
    faults = ("--faults", str(plan))
    with running_cluster(nats_server.url, postgres_dsn, 1, 2, gateway_args=faults) as cluster:
        yield cluster.gateways[0]


@pytest.fixture
def overloaded(
    nats_server: NatsServer, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Server]:
    """A cluster whose gateway throttles past OVERLOAD_BOUND events and deliveries waiting.

    Its stages take two seconds each (``STAGE_DELAY_MS``, read by the workers), so two worker
    processes (16 invocations of a function at once each) finish 16 orders a second: the
    suite's bursts are beyond capacity however fast the gateway accepts them (at full speed,
    two workers keep up with one gateway on a loaded machine, and nothing is throttled)."""
    monkeypatch.setenv("STAGE_DELAY_MS", str(MAX_STAGE_DELAY_MS))
    bound = ("--max-in-flight", str(OVERLOAD_BOUND))
    with running_cluster(nats_server.url, postgres_dsn, 1, 2, gateway_args=bound) as cluster:
        yield cluster.gateways[0]
