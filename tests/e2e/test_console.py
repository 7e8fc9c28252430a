"""The operator console in real headless Chromium, against a real ``pizzabus serve``.

GIVEN the console URL the server prints at start, WHEN orders flow, THEN the console shows the
functions and rules with live counts, the journeys with a waterfall, pending retries while a
fault is injected, and the dead-letter queue with show, redrive and purge. A screenshot of the
busy console is kept in ``test-results/``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from websockets.sync.client import connect

from tests.e2e.browser_support import requires_chromium
from tests.e2e.orders import new_order
from tests.e2e.server import REPO, Server, start_server
from tests.e2e.test_observe import _order

pytestmark = [pytest.mark.browser, pytest.mark.e2e, requires_chromium]

#: Where the test keeps what it saw.
RESULTS = REPO / "test-results"
LIVE_MS = 15_000


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = start_server(("--memory", "--no-reload", "--system", "tests.e2e.chaos_system:SYSTEM"))
    yield running
    running.stop()


def console_url(server: Server) -> str:
    for line in server.output:
        match = re.match(r"\s+console\s+(http://\S+)", line)
        if match:
            return match.group(1)
    raise AssertionError("no console line at start:\n" + "".join(server.output[:20]))


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(console_url(server))
    expect(page.get_by_test_id("status")).to_contain_text("live", timeout=LIVE_MS)
    yield page
    context.close()
    assert not errors


def _function_cell(page: Page, function: str, column: int) -> object:
    return page.locator(f'[data-testid="functions"] tr[data-function="{function}"] td').nth(column)


def open_the_order_journey(page: Page) -> None:
    """Open the order's journey (the longest: a socket's catch-up event has a short one of its
    own), and check its waterfall has the handlers' invocations and the pushes to the client."""
    rows = page.locator("[data-testid=traces] tr[data-trace]")
    expect(rows.first).to_be_visible(timeout=LIVE_MS)
    spans = [int(rows.nth(i).locator("td").nth(2).inner_text()) for i in range(rows.count())]
    rows.nth(spans.index(max(spans))).click()
    waterfall = page.get_by_test_id("waterfall")
    expect(waterfall).to_be_visible()
    expect(waterfall.locator('[data-kind="invocation"]').first).to_be_visible()
    expect(waterfall.locator('[data-kind="push"]').first).to_be_visible()


def test_the_console_url_keeps_the_token_in_an_http_only_cookie(server: Server) -> None:
    token = parse_qs(urlsplit(console_url(server)).query)["token"][0]
    assert token == server.admin_token
    assert httpx.get(f"{server.url}/_pizzabus/", timeout=5).status_code == 401
    response = httpx.get(f"{server.url}/_pizzabus/", params={"token": token}, timeout=5)
    assert response.status_code == 303
    assert response.headers["location"] == "/_pizzabus/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"pizzabus_admin={token};")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie


def test_the_console_state_lists_the_one_process_serving_it(server: Server) -> None:
    state = httpx.get(
        f"{server.url}/_pizzabus/console/state",
        headers={"Authorization": f"Bearer {server.admin_token}"},
        timeout=5,
    ).json()
    assert state["nodes"] == [
        {
            "node": "server",
            "kind": "server",
            "pid": server.process.pid,
            "metrics": urlsplit(server.url).netloc,
            "heartbeat_age_s": 0.0,
        }
    ]


def test_the_console_shows_functions_and_rules_live(page: Page, server: Server) -> None:
    for function in ("make_pizza", "cook_pizza", "deliver_pizza", "receive_events", "chaos"):
        expect(page.locator(f'tr[data-function="{function}"]')).to_be_visible()
    expect(page.locator('tr[data-rule="lab_make_pizza_rule"]')).to_be_visible()
    expect(page.locator('[data-node="rule:lab_receive_events_rule"]')).to_be_visible()
    process = page.locator("[data-testid=processes] tbody tr")
    expect(process).to_have_count(1)
    expect(process).to_have_attribute("data-kind", "server")
    expect(process.locator("td").nth(2)).to_have_text(str(server.process.pid))
    before = int(_function_cell(page, "make_pizza", 0).inner_text())  # type: ignore[attr-defined]

    async def two() -> None:
        await asyncio.gather(_order(server), _order(server))

    # Playwright's sync API runs a loop on this thread: the orders run on one of their own.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, two()).result(timeout=60)
    # No reload: the page updates by itself.
    expect(_function_cell(page, "make_pizza", 0)).to_have_text(str(before + 2), timeout=LIVE_MS)
    expect(_function_cell(page, "receive_events", 0)).not_to_have_text("0")
    matched = page.locator('tr[data-rule="lab_make_pizza_rule"] td').first
    expect(matched).to_have_text(str(before + 2), timeout=LIVE_MS)
    expect(page.locator('[data-testid="map"] .count').first).not_to_have_text("0")

    with connect(f"{server.ws_url}?order_id=watching") as socket:
        socket.send('{"action": "sync"}')
        expect(page.locator("[data-testid=connections] tbody tr")).to_have_count(1, timeout=LIVE_MS)
    expect(page.locator("[data-testid=connections] tbody tr")).to_have_count(0, timeout=LIVE_MS)

    open_the_order_journey(page)


def test_a_fault_shows_as_pending_retries_until_cleared(page: Page, server: Server) -> None:
    page.get_by_label("cook_pizza error rate").fill("1")
    page.get_by_role("button", name="Apply faults").click()
    expect(page.locator("#faults-message")).to_have_text("Applied.")
    plan = httpx.get(f"{server.url}/_pizzabus/faults", headers=server.admin_headers, timeout=5)
    plan = plan.json()
    assert plan["functions"]["cook_pizza"]["error_rate"] == 1

    httpx.post(server.url + "/", json=new_order(), timeout=5)
    retries = page.locator("[data-testid=retries] tbody tr")
    expect(retries.first).to_contain_text("cook_pizza", timeout=LIVE_MS)
    expect(_function_cell(page, "cook_pizza", 1)).not_to_have_text("0")
    page.get_by_role("button", name="Clear all").click()
    expect(page.locator("#faults-message")).to_have_text("Applied.")
    cleared = httpx.get(f"{server.url}/_pizzabus/faults", headers=server.admin_headers, timeout=5)
    assert cleared.json()["functions"] == {}


def test_dead_letters_can_be_shown_redriven_and_purged(page: Page, server: Server) -> None:
    RESULTS.mkdir(exist_ok=True)
    httpx.post(server.url + "/", json=new_order("raise"), timeout=5)  # chaos raises, no retries
    letters = page.locator("[data-testid=dlq] tbody tr")
    expect(letters).to_have_count(1, timeout=LIVE_MS)
    expect(letters.first).to_contain_text("chaos")

    letters.first.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("dlq-detail")).to_contain_text('"target": "chaos"')
    page.locator("[data-testid=traces] tr[data-trace]").nth(1).click()
    expect(
        page.get_by_test_id("waterfall").locator('[data-kind="invocation"]').first
    ).to_be_visible()
    page.screenshot(path=str(RESULTS / "console.png"), full_page=True)

    redriven_from = letters.first.get_attribute("data-letter")
    letters.first.get_by_role("button", name="Redrive").click()
    # Redriven, chaos raises again: a new dead letter takes its place.
    expect(page.locator(f'[data-testid=dlq] tr[data-letter="{redriven_from}"]')).to_have_count(
        0, timeout=LIVE_MS
    )
    expect(letters).to_have_count(1, timeout=LIVE_MS)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Purge").click()
    expect(letters).to_have_count(0, timeout=LIVE_MS)
    expect(page.get_by_test_id("dlq-count")).to_have_text("0")
    assert Path(RESULTS / "console.png").stat().st_size > 10_000
