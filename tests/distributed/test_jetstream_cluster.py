"""A 3-node JetStream cluster on loopback with R3 streams: kill -9 of one NATS node under load
loses no accepted event."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from pizzabus.devservers.nats import NatsServer, free_port, start_nats
from tests.distributed.cluster import running_cluster
from tests.distributed.flows import many
from tests.e2e.orders import STAGES

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


@pytest.fixture
def three_nodes(tmp_path: Path) -> Iterator[list[NatsServer]]:
    cluster_ports = [free_port() for _ in range(3)]
    nodes: list[NatsServer] = []
    try:
        for index, port in enumerate(cluster_ports):
            nodes.append(
                start_nats(
                    name=f"n{index}",
                    store_dir=tmp_path / f"n{index}",
                    cluster_port=port,
                    routes=[p for p in cluster_ports if p != port],
                )
            )
        yield nodes
    finally:
        for node in nodes:
            node.stop()


async def test_kill_9_of_one_nats_node_under_load_loses_no_accepted_order(
    three_nodes: list[NatsServer], tmp_path: Path
) -> None:
    urls = ",".join(node.url for node in three_nodes)
    with running_cluster(urls, tmp_path, 2, 2, "--replicas", "3") as cluster:
        a, b = cluster.gateways
        load = asyncio.create_task(many(a, b, 40, concurrency=8, timeout=120))
        await asyncio.sleep(2.0)
        random.choice(three_nodes).kill()
        timelines = await load
        assert timelines == [STAGES] * 40
