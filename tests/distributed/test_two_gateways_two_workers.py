"""Two gateways and two worker processes on a private nats-server and shared tables: the
lab's flow across processes, as the issue's "Done when" states it."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator

import httpx
import pytest
import websockets

from pizzabus.devservers.nats import NatsServer
from tests.distributed.cluster import Cluster, running_cluster
from tests.distributed.flows import follow_on_a_post_to_b, many
from tests.e2e.orders import STAGES, collect, new_order, silent_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def cluster(
    module_nats_server: NatsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    with running_cluster(module_nats_server.url, tmp_path_factory.mktemp("tables")) as running:
        yield running


async def test_a_hundred_orders_posted_to_b_reach_their_sockets_on_a_each_stage_in_order(
    cluster: Cluster,
) -> None:
    a, b = cluster.gateways
    timelines = await many(a, b, 100)
    assert timelines == [STAGES] * 100


async def test_a_late_socket_on_b_catches_up_on_an_order_placed_through_a(
    cluster: Cluster,
) -> None:
    a, b = cluster.gateways
    order = new_order()
    order_id = order["item"]["order_id"]
    async with httpx.AsyncClient(timeout=30) as client:
        assert await follow_on_a_post_to_b(a, a, client) == STAGES
    async with websockets.connect(f"{b.ws_url}?order_id={order_id}") as late:
        await late.send(json.dumps({"action": "sync"}))
        async with httpx.AsyncClient(timeout=30) as client:
            await client.post(a.url + "/", json=order)
        assert await collect(late, timeout=60) == STAGES
        assert await silent_for(late, 0.5) == []  # and nothing twice


async def test_the_order_timeline_is_served_by_either_gateway(cluster: Cluster) -> None:
    a, b = cluster.gateways
    async with httpx.AsyncClient(timeout=30) as client:
        order = new_order()
        await follow_on_a_post_to_b(a, b, client)
        response = await client.post(b.url + "/", json=order)
        assert response.status_code == 200
        order_id = order["item"]["order_id"]
        for _ in range(200):
            timeline = (await client.get(f"{a.url}/orders/{order_id}")).json()
            if len(timeline.get("stages", timeline.get("timeline", []))) == 4:
                break
            await asyncio.sleep(0.1)
        assert (await client.get(f"{b.url}/orders/{order_id}")).status_code == 200


async def test_a_bad_body_gets_a_clear_400_from_a_gateway_node(cluster: Cluster) -> None:
    a, _ = cluster.gateways
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(a.url + "/", content=b"{not json")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]


async def test_a_posted_later_stage_is_refused(cluster: Cluster) -> None:
    _, b = cluster.gateways
    order = new_order()
    order["item"]["eventtype"] = "delivered"
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(b.url + "/", json=order)
    assert response.status_code == 400  # the schema allows only make_pizza


async def test_kill_9_of_a_worker_process_under_load_loses_nothing(cluster: Cluster) -> None:
    a, b = cluster.gateways
    assert cluster.workers is not None
    victim = cluster.workers.ready_pids()[0]
    load = asyncio.create_task(many(a, b, 60, concurrency=12, timeout=120))
    await asyncio.sleep(1.5)
    import os

    os.kill(victim, signal.SIGKILL)
    timelines = await load
    assert timelines == [STAGES] * 60
    # The supervisor started a new process in its place.
    pids = cluster.workers.wait_ready(3)
    assert victim in pids
    assert len(pids) >= 3


async def test_stats_of_a_gateway_node_show_the_backlog_and_its_connections(
    cluster: Cluster,
) -> None:
    stats = cluster.gateways[0].stats()
    assert stats["runtime"] == "distributed"
    assert "backlog" in stats
