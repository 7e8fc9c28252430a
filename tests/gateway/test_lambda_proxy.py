"""An HTTP API route with a Lambda integration behaves as API Gateway's payload format 2.0:
the event the function gets, and how its answer becomes the HTTP response."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from pizzabus.functions.runtime import RuntimeIdentity
from pizzabus.gateway.http_api import build_routes
from pizzabus.system import HttpApi, HttpRoute, LambdaIntegration


class Function:
    """The integration's function: records each event, answers ``answer``."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.answer: Any = {"statusCode": 200}

    async def __call__(self, function: str, payload: bytes) -> Any:
        self.events.append({"function": function, **json.loads(payload)})
        return self.answer


@pytest.fixture
def function() -> Function:
    return Function()


@pytest.fixture
async def client(function: Function) -> AsyncIterator[httpx.AsyncClient]:
    api = HttpApi(
        "http_api",
        (
            HttpRoute("GET", "/orders/{order_id}", LambdaIntegration("get_order")),
            HttpRoute("POST", "/echo", LambdaIntegration("echo")),
        ),
    )
    routes = build_routes(
        api, router=None, invoke=function, identity=RuntimeIdentity(), api_id="api1"
    )  # type: ignore[arg-type]  # no PutEvents route here: the router is never used
    transport = httpx.ASGITransport(Starlette(routes=routes))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.local") as made:
        yield made


# -- the request the function gets -----------------------------------------------------------


async def test_the_route_key_path_parameters_and_query_reach_the_function(
    client: httpx.AsyncClient, function: Function
) -> None:
    await client.get("/orders/o-1?a=1&a=2&b=")
    (event,) = function.events
    assert event["function"] == "get_order"
    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "GET /orders/{order_id}"
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/orders/o-1"
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["pathParameters"] == {"order_id": "o-1"}
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}  # repeated: comma-joined
    assert "body" not in event
    assert event["isBase64Encoded"] is False


async def test_only_the_routes_method_reaches_the_function(
    client: httpx.AsyncClient, function: Function
) -> None:
    assert (await client.post("/orders/o-1")).status_code == 405
    assert (await client.get("/echo")).status_code == 405
    assert (await client.get("/elsewhere")).status_code == 404
    assert function.events == []


async def test_headers_are_lower_case_and_repeated_ones_comma_joined(
    client: httpx.AsyncClient, function: Function
) -> None:
    await client.post("/echo", headers=[("X-Tag", "a"), ("x-tag", "b"), ("X-One", "1")])
    headers = function.events[0]["headers"]
    assert headers["x-tag"] == "a,b"
    assert headers["x-one"] == "1"
    assert all(name == name.lower() for name in headers)


async def test_cookies_arrive_as_a_list_not_as_a_header(
    client: httpx.AsyncClient, function: Function
) -> None:
    await client.post("/echo", headers={"Cookie": "a=1; b=2"})
    event = function.events[0]
    assert event["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in event["headers"]


async def test_no_cookie_header_means_no_cookies_field(
    client: httpx.AsyncClient, function: Function
) -> None:
    await client.post("/echo")
    assert "cookies" not in function.events[0]


@pytest.mark.parametrize(
    ("body", "expected", "encoded"),
    [
        pytest.param(b'{"a": 1}', '{"a": 1}', False, id="text"),
        pytest.param("pizzé".encode(), "pizzé", False, id="utf-8"),
        pytest.param(b"\xff\x00\x01", base64.b64encode(b"\xff\x00\x01").decode(), True, id="bin"),
    ],
)
async def test_a_body_is_text_or_base64_with_is_base64_encoded(
    client: httpx.AsyncClient, function: Function, body: bytes, expected: str, encoded: bool
) -> None:
    await client.post("/echo", content=body)
    event = function.events[0]
    assert (event["body"], event["isBase64Encoded"]) == (expected, encoded)


# -- the response made of the function's answer ----------------------------------------------


async def _answer(client: httpx.AsyncClient, function: Function, answer: Any) -> Any:
    function.answer = answer
    return await client.post("/echo")


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"message": "hi"}, id="object"),
        pytest.param([1, 2], id="list"),
    ],
)
async def test_an_answer_without_status_code_is_a_200_json_body(
    client: httpx.AsyncClient, function: Function, answer: Any
) -> None:
    response = await _answer(client, function, answer)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == answer


async def test_a_status_code_alone_gives_an_empty_body(
    client: httpx.AsyncClient, function: Function
) -> None:
    response = await _answer(client, function, {"statusCode": 204})
    assert response.status_code == 204
    assert response.content == b""


@pytest.mark.parametrize("status", [201, "202", 404, 500])
async def test_the_status_code_is_the_answers(
    client: httpx.AsyncClient, function: Function, status: int | str
) -> None:
    response = await _answer(client, function, {"statusCode": status})
    assert response.status_code == int(status)


async def test_a_base64_encoded_body_is_decoded(
    client: httpx.AsyncClient, function: Function
) -> None:
    data = b"\x89PNG\r\n\x1a\n\x00"
    response = await _answer(
        client,
        function,
        {"statusCode": 200, "body": base64.b64encode(data).decode(), "isBase64Encoded": True},
    )
    assert response.content == data


@pytest.mark.parametrize("flag", [False, None], ids=["false", "absent"])
async def test_a_body_not_marked_base64_is_sent_as_it_is(
    client: httpx.AsyncClient, function: Function, flag: bool | None
) -> None:
    answer: dict[str, Any] = {"statusCode": 200, "body": "aGVsbG8="}  # base64 of "hello"
    if flag is not None:
        answer["isBase64Encoded"] = flag
    assert (await _answer(client, function, answer)).content == b"aGVsbG8="


async def test_the_answers_headers_are_the_responses(
    client: httpx.AsyncClient, function: Function
) -> None:
    response = await _answer(
        client,
        function,
        {"statusCode": 200, "headers": {"Content-Type": "text/plain", "X-Count": 3}, "body": "x"},
    )
    assert response.headers["content-type"] == "text/plain"
    assert response.headers["x-count"] == "3"
    assert response.text == "x"


async def test_the_answers_cookies_become_set_cookie_headers(
    client: httpx.AsyncClient, function: Function
) -> None:
    response = await _answer(
        client, function, {"statusCode": 200, "cookies": ["a=1; Path=/", "b=2; HttpOnly"]}
    )
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; HttpOnly"]
