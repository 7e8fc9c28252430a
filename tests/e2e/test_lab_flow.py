"""The lab's flow over real sockets against a started ``pizzabus serve``."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.e2e.orders import STAGES, collect, new_order, place_and_follow, rest_of
from tests.e2e.server import Server

pytestmark = pytest.mark.e2e


async def test_one_order_sees_all_four_stages_in_order(server: Server) -> None:
    async with httpx.AsyncClient() as client:
        assert await place_and_follow(server.url, server.ws_url, client) == STAGES


async def test_fifty_concurrent_orders_all_complete(server: Server) -> None:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=50)) as client:
        results = await asyncio.gather(
            *(place_and_follow(server.url, server.ws_url, client) for _ in range(50))
        )
    assert all(stages == STAGES for stages in results)


async def test_the_labs_quick_handlers_end_up_running_inline(server: Server) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(8):
            assert await place_and_follow(server.url, server.ws_url, client) == STAGES
    functions = server.stats()["functions"]
    assert isinstance(functions, dict)
    for name in ("make_pizza", "cook_pizza", "deliver_pizza", "receive_events"):
        # The first invocations (the cold start among them) ran on the environment's thread.
        assert functions[name]["thread_invocations"] >= 3, (name, functions[name])
        assert functions[name]["inline_invocations"] > 0, (name, functions[name])


async def test_two_sockets_on_one_order_both_see_every_stage(server: Server) -> None:
    order = new_order()
    url = f"{server.ws_url}?order_id={order['item']['order_id']}"
    async with websockets.connect(url) as first, websockets.connect(url) as second:
        for socket in (first, second):
            await socket.send(json.dumps({"action": "sync"}))
        async with httpx.AsyncClient() as client:
            assert (await client.post(server.url + "/", json=order)).status_code == 200
        assert await asyncio.gather(collect(first), collect(second)) == [STAGES, STAGES]
        assert [await rest_of(first, server), await rest_of(second, server)] == [[], []]


async def test_a_late_socket_first_receives_what_already_happened(server: Server) -> None:
    order = new_order()
    order_id = order["item"]["order_id"]
    async with websockets.connect(f"{server.ws_url}?order_id={order_id}") as early:
        await early.send(json.dumps({"action": "sync"}))
        async with httpx.AsyncClient() as client:
            await client.post(server.url + "/", json=order)
        await collect(early)
    async with websockets.connect(f"{server.ws_url}?order_id={order_id}") as late:
        await late.send(json.dumps({"action": "sync"}))
        assert await collect(late) == STAGES
        assert await rest_of(late, server) == []  # and nothing twice


async def test_a_plain_client_that_sends_nothing_catches_up_then_follows_live(
    server: Server,
) -> None:
    # GIVEN an order whose first stages ran before anyone watched (like wscat, sending nothing)
    order = new_order()
    order_id = order["item"]["order_id"]
    url = f"{server.ws_url}?order_id={order_id}"
    async with httpx.AsyncClient() as client:
        await client.post(server.url + "/", json=order)
        async with websockets.connect(url) as early:
            await collect(early, until="cook_pizza")  # some stages are done
        # WHEN two plain clients connect and send nothing
        async with websockets.connect(url) as late, websockets.connect(url) as later:
            # THEN each receives every stage once, in order: what was done, then what follows
            assert await asyncio.gather(collect(late), collect(later)) == [STAGES, STAGES]
            # and a sync (the web client's) sends nothing twice
            await late.send(json.dumps({"action": "sync"}))
            assert await rest_of(late, server) == []


async def test_the_timeline_of_an_order_is_served_in_stage_order(server: Server) -> None:
    async with httpx.AsyncClient() as client:
        order = new_order("diavola")
        order_id = order["item"]["order_id"]
        async with websockets.connect(f"{server.ws_url}?order_id={order_id}") as socket:
            await socket.send(json.dumps({"action": "sync"}))
            await client.post(server.url + "/", json=order)
            await collect(socket)
        response = await client.get(f"{server.url}/orders/{order_id}")
        assert response.status_code == 200
        body = response.json()
        assert body["order_id"] == order_id
        assert [e["item"]["eventtype"] for e in body["events"]] == STAGES
        assert all(e["item"]["pizza"] == "diavola" for e in body["events"])
        unknown = await client.get(f"{server.url}/orders/no-such-order")
        assert unknown.status_code == 404
        assert "POST /" in unknown.json()["message"]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        pytest.param(b"{not json", 400, "not valid JSON", id="not-json"),
        pytest.param(b"[1, 2]", 400, "must be a JSON object", id="not-an-object"),
        pytest.param(b'{"order_id": "x"}', 400, "'item'", id="no-item"),
        pytest.param(b'{"item": "pizza"}', 400, "must be a JSON object", id="item-not-object"),
        pytest.param(b'{"item": {"eventtype": "make_pizza"}}', 400, "item.order_id", id="no-id"),
        pytest.param(b"", 400, "empty", id="empty"),
        pytest.param(
            b'{"item": {"order_id": "x", "eventtype": "make_pizza"}, "pad": "'
            + b"x" * (11 * 1024 * 1024)
            + b'"}',
            413,
            "at most",
            id="too-large",
        ),
    ],
)
async def test_a_bad_body_gets_a_clear_4xx_and_publishes_nothing(
    server: Server, body: bytes, status: int, says: str
) -> None:
    before = server.stats()["events_published"]
    async with httpx.AsyncClient() as client:
        response = await client.post(
            server.url + "/", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == status
    assert says in response.json()["message"]
    assert server.stats()["events_published"] == before


async def test_a_forged_later_stage_reaches_no_socket_and_advances_nothing(server: Server) -> None:
    order = new_order()
    order_id = order["item"]["order_id"]
    order["item"]["eventtype"] = "delivered"
    async with websockets.connect(f"{server.ws_url}?order_id={order_id}") as socket:
        await socket.send(json.dumps({"action": "sync"}))
        async with httpx.AsyncClient() as client:
            response = await client.post(server.url + "/", json=order)
            assert response.status_code == 400
            assert "make_pizza" in response.json()["message"]
            assert await rest_of(socket, server) == []
            timeline = await client.get(f"{server.url}/orders/{order_id}")
            assert timeline.status_code == 404


async def test_cors_preflight_allows_any_origin_to_post(server: Server) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.options(
            server.url + "/",
            headers={
                "Origin": "https://example.org",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-anything",
            },
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"
        assert "POST" in response.headers["access-control-allow-methods"]
        posted = await client.post(
            server.url + "/", json=new_order(), headers={"Origin": "https://example.org"}
        )
        assert posted.headers["access-control-allow-origin"] == "*"
        assert posted.json()["FailedEntryCount"] == 0
        assert len(posted.json()["Entries"][0]["EventId"]) == 36


async def test_a_socket_without_an_order_id_is_refused(server: Server) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(server.ws_url):
            pass
    assert refused.value.response.status_code == 400


async def test_a_message_no_route_takes_is_answered_forbidden(server: Server) -> None:
    async with websockets.connect(f"{server.ws_url}?order_id=x") as socket:
        await socket.send("hello, not json")
        reply = json.loads(await asyncio.wait_for(socket.recv(), 5))
        assert reply["message"] == "Forbidden"


def test_the_management_api_answers_gone_for_an_unknown_connection_to_real_boto3(
    server: Server,
) -> None:
    import boto3

    management = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"{server.url}/production",
        region_name="us-east-1",
        aws_access_key_id="pizzabus",
        aws_secret_access_key=server.admin_token,
    )
    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(Data=b"hi", ConnectionId="bm9uZXN1Y2g=")
