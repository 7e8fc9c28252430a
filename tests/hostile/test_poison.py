"""Probes of what the pipeline can never process: each is refused at the edge with a 4xx and a
JSON message naming the problem, and nothing of it is published."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
import websockets

from pizzabus.bus.eventjson import ensure_nesting_headroom
from pizzabus.pizza.system import ORDER_MAX_BODY_BYTES
from tests.e2e.orders import STAGES, collect, new_order
from tests.e2e.server import Server
from tests.hostile.conftest import admin, wait_delivered

pytestmark = pytest.mark.e2e


def _order_with(pizza_json: str) -> bytes:
    order_id = str(uuid.uuid4())
    return (
        f'{{"item": {{"order_id": "{order_id}", "eventtype": "make_pizza", '
        f'"pizza": {pizza_json}}}}}'
    ).encode()


POISON = [
    pytest.param(_order_with('"' + "x" * 500_000 + '"'), 413, "at most 28672 bytes", id="500kb"),
    pytest.param(_order_with('"\\ud800"'), 400, "lone UTF-16 surrogate", id="lone-surrogate"),
    pytest.param(_order_with("1e400"), 400, "out of range", id="1e400"),
    pytest.param(_order_with("-" + "9" * 400), 400, "out of range", id="400-digits"),
    pytest.param(_order_with("[" * 1100 + "]" * 1100), 400, "1102 levels", id="nested-1102"),
    pytest.param(_order_with("[" * 50_000 + "]" * 50_000), 413, "at most", id="nested-50000"),
    pytest.param(_order_with("NaN"), 400, "NaN is not a JSON number", id="nan"),
    pytest.param(b'{"item": "\xed\xa0\x80"}', 400, "not valid JSON", id="cesu-surrogate-bytes"),
    pytest.param(b"\xff\xfe{\x00}\x00", 400, "The body has no 'item'", id="utf16-empty-object"),
    pytest.param(b"[]", 400, "must be a JSON object", id="array"),
]


@pytest.mark.parametrize(("body", "status", "message"), POISON)
def test_poison_bodies_get_a_4xx_naming_the_problem(
    server: Server, body: bytes, status: int, message: str
) -> None:
    before = server.stats()["events_published"]
    answer = httpx.post(
        server.url + "/", content=body, headers={"content-type": "application/json"}, timeout=30
    )
    assert answer.status_code == status, answer.text[:300]
    assert message in answer.json()["message"]
    assert server.stats()["events_published"] == before


def test_nesting_within_eventbridges_limit_is_accepted_and_the_order_completes(
    server: Server,
) -> None:
    ensure_nesting_headroom()  # this test's client reads the order back, 1,100 levels deep
    order = new_order()
    body = json.dumps(order).replace('"margherita"', "[" * 1097 + "1" + "]" * 1097)
    answer = httpx.post(server.url + "/", content=body.encode(), timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    assert wait_delivered(server, [order["item"]["order_id"]]) == []


async def test_the_largest_order_every_stage_can_record_and_push_completes(
    server: Server,
) -> None:
    # GIVEN an order at the size bound, made of what grows most when written again (1e15 is
    # written back as 1000000000000000.0)
    order = new_order()
    text = json.dumps(order)
    head, tail = text[: text.index('"margherita"')] + "[", "]}}"
    count = (ORDER_MAX_BODY_BYTES - len(head) - len(tail) + 1) // 5
    body = head + ",".join(["1e15"] * count) + tail
    assert ORDER_MAX_BODY_BYTES - 5 <= len(body) <= ORDER_MAX_BODY_BYTES
    order_id = order["item"]["order_id"]
    async with websockets.connect(f"{server.ws_url}?order_id={order_id}") as socket:
        async with httpx.AsyncClient() as client:
            answer = await client.post(server.url + "/", content=body.encode(), timeout=30)
        assert answer.status_code == 200, answer.text[:300]
        # THEN every stage is recorded and pushed (each push > 100 KB, < 128 KiB)
        assert await collect(socket, timeout=60) == STAGES


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        ("PUT", "/faults", b"[]", "must be a JSON object"),
        ("PUT", "/faults", b'{"functions": [1]}', "functions must be an object"),
        ("PUT", "/faults", b'{"functions": {"make_pizza": 1}}', "must be an object"),
        ("POST", "/dlq/redrive", b"[]", "must be a JSON object"),
        ("POST", "/dlq/redrive", b'{"ids": [1]}', '"ids" must be a list of ids'),
        ("POST", "/dlq/redrive", b'{"all": "yes"}', '"all" must be true or false'),
        ("POST", "/replays", b'"x"', "must be a JSON object"),
        ("POST", "/replays", b'{"rules": "r"}', "rules must be a list"),
        ("POST", "/replays", b'{"from": {}}', "is not a time"),
        ("POST", "/retries/cancel", b'{"ids": "r-1"}', '"ids" must be a list'),
        ("POST", "/retries/cancel", b"[" * 5000 + b"]" * 5000, "levels deep"),
        ("POST", "/retries/cancel", b"\xff", "not UTF-8"),
    ],
)
def test_admin_bodies_of_the_wrong_shape_get_400(
    server: Server, method: str, path: str, body: bytes, message: str
) -> None:
    answer = admin(server, method, path, content=body)
    assert answer.status_code == 400, answer.text[:300]
    assert message in answer.json()["message"]


async def test_a_deeply_nested_websocket_message_gets_an_error_frame_and_the_socket_lives(
    server: Server,
) -> None:
    order = new_order()
    url = f"{server.ws_url}?order_id={order['item']['order_id']}"
    async with websockets.connect(url) as socket:
        await socket.send("[" * 10_000 + "]" * 10_000)  # 20 KB: within the frame limit
        reply = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert "levels deep" in reply["message"]
        # and the socket still follows its order
        async with httpx.AsyncClient() as client:
            await client.post(server.url + "/", json=order)
        assert await collect(socket) == STAGES


@pytest.mark.parametrize(
    ("size", "fragments"),
    [pytest.param(40 * 1024, 1, id="one-40KB-frame"), pytest.param(130 * 1024, 5, id="130KB")],
)
async def test_frames_over_32kb_and_messages_over_128kb_close_the_socket_with_1009(
    server: Server, size: int, fragments: int
) -> None:
    url = f"{server.ws_url}?order_id={uuid.uuid4()}"
    async with websockets.connect(url, max_size=None) as socket:
        text = "x" * size
        if fragments == 1:
            await socket.send(text)
        else:
            step = -(-size // fragments)
            await socket.send(text[i : i + step] for i in range(0, size, step))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009
