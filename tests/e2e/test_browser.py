"""The web client in real headless Chromium, against a real ``pizzabus serve``.

GIVEN the page a user opens at ``/``, WHEN they place orders, THEN each card follows its
order live to ``delivered``; a dropped socket reconnects without repeating stages; a quiet
order says it is stalled; a refused order shows the server's message; and a stopped server
is reported as unreachable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    Locator,
    Page,
    Route,
    WebSocketRoute,
    expect,
)

from tests.e2e.browser_support import (
    RunningServer,
    requires_chromium,
    start_server,
)

pytestmark = [pytest.mark.browser, pytest.mark.e2e, requires_chromium]

DELIVERY_TIMEOUT_MS = 20_000
STAGES = ("make_pizza", "cook_pizza", "deliver_pizza", "delivered")
ORDER_SOCKET = re.compile(r"/ws\?order_id=")


@dataclass
class Client:
    """A browser tab on the web client, and the uncaught errors its scripts raised."""

    page: Page
    url: str
    errors: list[str] = field(default_factory=list)

    def open(self, query: str = "") -> None:
        self.page.goto(f"{self.url}/{query}")
        expect(self.page.get_by_role("heading", name="Place an order")).to_be_visible()

    def place(self, pizza: str = "margherita") -> str:
        """Order ``pizza``; the new card's order id."""
        before = self.cards.count()
        self.page.get_by_role("radio", name=re.compile(pizza.replace("_", " "), re.I)).check()
        self.page.get_by_test_id("place-order").click()
        expect(self.cards).to_have_count(before + 1)
        order_id = self.cards.first.get_attribute("data-order-id")
        assert order_id
        return order_id

    @property
    def cards(self) -> Locator:
        return self.page.get_by_test_id("order")

    def card(self, order_id: str) -> Locator:
        return self.page.locator(f'[data-testid="order"][data-order-id="{order_id}"]')

    def status(self, order_id: str) -> Locator:
        return self.card(order_id).get_by_test_id("order-status")


@pytest.fixture(scope="module")
def live_server() -> Iterator[RunningServer]:
    running = start_server()
    yield running
    running.stop()


@contextmanager
def open_client(browser: Browser, url: str) -> Iterator[Client]:
    """A fresh browser context on ``url``, closed afterwards."""
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    client = Client(page, url)
    page.on("pageerror", lambda error: client.errors.append(str(error)))
    try:
        yield client
    finally:
        context.close()


@pytest.fixture
def client(browser: Browser, live_server: RunningServer) -> Iterator[Client]:
    with open_client(browser, live_server.url) as opened:
        yield opened


def test_an_order_is_followed_live_until_delivered(
    client: Client, live_server: RunningServer
) -> None:
    client.open()
    order_id = client.place("margherita")

    expect(client.status(order_id)).to_have_text("delivered", timeout=DELIVERY_TIMEOUT_MS)
    card = client.card(order_id)
    for stage in STAGES:
        step = card.locator(f'[data-stage="{stage}"]')
        expect(step).to_have_attribute("data-state", "done")
        expect(step).to_contain_text(re.compile(r"\+\d+ ms"))  # since placing
        expect(step.locator("time")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d\.\d{3}$"))
    expect(client.page.get_by_test_id("banner")).to_be_hidden()
    timeline = httpx.get(f"{live_server.url}/orders/{order_id}", timeout=5).json()
    assert [e["item"]["eventtype"] for e in timeline["events"]] == list(STAGES)
    assert client.errors == []


def test_two_orders_at_once_both_reach_delivered(client: Client) -> None:
    client.open()
    first = client.place("pepperoni")
    second = client.place("funghi")

    assert first != second
    for order_id in (first, second):
        expect(client.status(order_id)).to_have_text("delivered", timeout=DELIVERY_TIMEOUT_MS)
    assert client.card(first).get_attribute("data-pizza") == "pepperoni"
    assert client.card(second).get_attribute("data-pizza") == "funghi"
    assert client.errors == []


def test_a_dropped_socket_reconnects_and_ignores_stages_it_already_has(client: Client) -> None:
    connections: list[WebSocketRoute] = []

    def drop_after_first_stage_then_repeat_everything(ws: WebSocketRoute) -> None:
        connections.append(ws)
        upstream = ws.connect_to_server()
        first_connection = len(connections) == 1

        def downstream(message: str | bytes) -> None:
            ws.send(message)
            if first_connection:  # one stage, then the line goes dead
                ws.close(code=4000, reason="test drops the connection")
                upstream.close()
            else:
                ws.send(message)  # and every later frame arrives twice

        upstream.on_message(downstream)
        ws.on_message(upstream.send)

    client.page.route_web_socket(ORDER_SOCKET, drop_after_first_stage_then_repeat_everything)
    # Only the socket's {"action": "sync"} may bring the missed stages, not GET /orders/{id}.
    client.page.route(re.compile(r"/orders/"), lambda route: route.abort())
    client.open()
    order_id = client.place()
    made = client.card(order_id).locator('[data-stage="make_pizza"] [data-part="elapsed"]')
    expect(made).to_have_text(re.compile(r"\+\d+ ms"))
    first_seen = made.inner_text()

    expect(client.status(order_id)).to_have_text("delivered", timeout=DELIVERY_TIMEOUT_MS)
    assert len(connections) >= 2
    assert made.inner_text() == first_seen  # the replayed make_pizza changed nothing
    expect(client.card(order_id).locator('[data-state="done"]')).to_have_count(4)
    assert client.errors == []


def test_an_order_with_no_news_says_it_is_stalled(client: Client) -> None:
    def only_the_first_stage(ws: WebSocketRoute) -> None:
        upstream = ws.connect_to_server()
        delivered: list[str | bytes] = []

        def downstream(message: str | bytes) -> None:
            if not delivered:
                delivered.append(message)
                ws.send(message)

        upstream.on_message(downstream)
        ws.on_message(upstream.send)

    client.page.route_web_socket(ORDER_SOCKET, only_the_first_stage)
    client.open("?stall=1500")
    order_id = client.place()

    expect(client.status(order_id)).to_have_text(re.compile(r"^stalled"), timeout=10_000)
    expect(client.card(order_id).get_by_test_id("order-message")).to_contain_text("No new stage")
    expect(client.card(order_id)).to_have_attribute("data-status", "stalled")
    assert client.errors == []


def test_a_refused_order_shows_the_servers_message(client: Client) -> None:
    def without_order_id(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        body = json.loads(route.request.post_data or "{}")
        del body["item"]["order_id"]
        route.continue_(post_data=json.dumps(body))

    client.open()
    client.page.route(lambda url: url.rstrip("/") == client.url, without_order_id)
    order_id = client.place()

    expect(client.status(order_id)).to_have_text("refused")
    expect(client.card(order_id).get_by_test_id("order-message")).to_contain_text("order_id")
    expect(client.page.get_by_test_id("banner")).to_be_hidden()
    assert client.errors == []


def hold_every_stage_back(ws: WebSocketRoute) -> None:
    """Connect to the server, pass the client's frames on, and pass none back."""
    upstream = ws.connect_to_server()
    upstream.on_message(lambda message: None)
    ws.on_message(upstream.send)


def test_stopping_the_server_shows_that_it_cannot_be_reached(browser: Browser) -> None:
    own_server = start_server()
    try:
        with open_client(browser, own_server.url) as client:
            # No stage gets through, so the order's socket is still open when the server goes.
            client.page.route_web_socket(ORDER_SOCKET, hold_every_stage_back)
            client.open()
            waiting = client.place()
            expect(client.card(waiting).locator('[data-part="link"]')).to_have_text(
                "live updates on"
            )

            own_server.stop()

            banner = client.page.get_by_test_id("banner")
            expect(banner).to_be_visible(timeout=10_000)
            expect(banner).to_contain_text(f"Cannot reach the pizzabus server at {own_server.url}")
            expect(banner).to_contain_text("pizzabus serve")
            expect(client.card(waiting).locator('[data-part="link"]')).to_contain_text(
                "reconnecting"
            )
            unsent = client.place()
            expect(client.status(unsent)).to_have_text("not sent")
            expect(banner).to_be_visible()
            assert client.errors == []
    finally:
        own_server.stop()
