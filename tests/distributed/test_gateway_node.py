"""A gateway node in process, on a private nats-server and no worker: what it answers itself
(PutEvents, the admin API, pushes to sockets it does not hold) and what needs a worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pizzabus.access import TOKEN_HEADER
from pizzabus.bus.deadletters import DeadLetter
from pizzabus.contracts.runtime import Distribution
from pizzabus.devservers.nats import NatsServer
from pizzabus.distributed.consumer import encode_letter
from pizzabus.distributed.gateway import GatewayNode
from pizzabus.distributed.pushes import RemoteConnections
from pizzabus.distributed.subjects import connection_id, new_gateway_tag
from pizzabus.embedded import Settings
from pizzabus.gateway.connections import Gone, PayloadTooLarge
from pizzabus.pizza.system import SYSTEM
from tests.e2e.orders import new_order

TOKEN = "a-test-token-of-the-admin-api"


@contextlib.asynccontextmanager
async def running(
    nats_server: NatsServer, tmp_path: Path
) -> AsyncIterator[tuple[GatewayNode, httpx.AsyncClient]]:
    """A started gateway node and a client of its app (inside the test's own task)."""
    node = GatewayNode(
        SYSTEM,
        Settings(data_dir=None, base_url="http://gateway", admin_token=TOKEN),
        Distribution(nats_server.url, f"sqlite:///{tmp_path / 't.sqlite3'}"),
    )
    await node.start()
    try:
        transport = httpx.ASGITransport(app=node.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway", headers={TOKEN_HEADER: TOKEN}
        ) as client:
            yield node, client
    finally:
        await node.stop()


async def test_an_order_is_accepted_with_no_worker_running(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    async with running(nats_server, tmp_path) as (_, client):
        await _accepted(client)


async def _accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/", json=new_order())
    assert response.status_code == 200
    assert response.json()["FailedEntryCount"] == 0
    stats = (await client.get("/_pizzabus/stats")).json()
    assert stats["runtime"] == "distributed"
    assert stats["events_published"] == 1


async def test_faults_set_on_a_gateway_are_kept_for_the_workers(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    async with running(nats_server, tmp_path) as (_, client):
        await _faults(client)


async def _faults(client: httpx.AsyncClient) -> None:
    plan = {"functions": {"cook_pizza": {"error_rate": 0.5}}}
    assert (await client.put("/_pizzabus/faults", json=plan)).status_code == 200
    shown = (await client.get("/_pizzabus/faults")).json()
    assert shown["functions"]["cook_pizza"]["error_rate"] == 0.5
    refused = await client.put("/_pizzabus/faults", json={"functions": {"nope": {}}})
    assert refused.status_code == 400


async def _letter(node: GatewayNode) -> DeadLetter:
    letter = DeadLetter(
        event_id="e-1",
        bus="lab_event_bus",
        rule="lab_cook_pizza_rule",
        target="cook_pizza",
        payload=b'{"detail": {"item": {"order_id": "o-1"}}}',
        attempts=3,
        reason="MaximumRetryAttemptsExceeded",
        error_type="Pizzabus.InjectedFault",
        error_message="injected",
        at=1.0,
        id="dl-test",
    )
    assert node.broker is not None
    assert node.broker.dead_letters is not None
    await node.broker.dead_letters.put(letter.id, encode_letter(letter))
    return letter


async def test_dead_letters_are_listed_shown_redriven_and_purged(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    async with running(nats_server, tmp_path) as (node, client):
        await _dead_letters(node, client)


async def _dead_letters(node: GatewayNode, client: httpx.AsyncClient) -> None:
    assert (await client.get("/_pizzabus/dlq")).json() == {"DeadLetters": []}
    letter = await _letter(node)
    listed = (await client.get("/_pizzabus/dlq")).json()["DeadLetters"]
    assert [entry["id"] for entry in listed] == [letter.id]
    shown = (await client.get(f"/_pizzabus/dlq/{letter.id}")).json()
    assert shown["event"]["detail"]["item"]["order_id"] == "o-1"
    assert (await client.get("/_pizzabus/dlq/dl-none")).status_code == 404
    redriven = await client.post("/_pizzabus/dlq/redrive", json={"ids": [letter.id]})
    assert redriven.json() == {"Redriven": 1}
    assert (await client.get("/_pizzabus/dlq")).json() == {"DeadLetters": []}
    await _letter(node)
    assert (await client.delete("/_pizzabus/dlq")).json() == {"Purged": 1}


async def test_replays_are_refused_saying_why(nats_server: NatsServer, tmp_path: Path) -> None:
    async with running(nats_server, tmp_path) as (_, client):
        await _replays(client)


async def _replays(client: httpx.AsyncClient) -> None:
    assert (await client.get("/_pizzabus/replays")).json() == {"Replays": []}
    refused = await client.post("/_pizzabus/replays", json={"from": "now"})
    assert refused.status_code == 400
    assert "not available on the distributed runtime" in refused.json()["message"]


async def test_pushes_from_a_worker_to_a_socket_no_gateway_holds_answer_gone(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    async with running(nats_server, tmp_path) as (node, _):
        await _pushes(node)


async def _pushes(node: GatewayNode) -> None:
    assert node.broker is not None
    connections = RemoteConnections(node.broker, asyncio.get_running_loop(), "api", 128)

    def push(connection: str, data: bytes = b"hi") -> Any:
        return asyncio.to_thread(connections.post, connection, data)

    with pytest.raises(Gone, match="its gateway is gone"):
        await push(connection_id(new_gateway_tag()))  # a gateway that is not there
    with pytest.raises(Gone, match="closed, or never existed"):
        await push(connection_id(node.tag))  # this gateway, no such socket
    with pytest.raises(Gone, match="never existed"):
        await push("not-one-of-ours")
    with pytest.raises(PayloadTooLarge):
        await push(connection_id(node.tag), b"x" * 129)
    with pytest.raises(Gone):
        await asyncio.to_thread(connections.get, connection_id(node.tag))
    with pytest.raises(Gone):
        await asyncio.to_thread(connections.delete, connection_id(node.tag))
