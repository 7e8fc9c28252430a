"""The operator console in real headless Chromium, against a gateway of a cluster.

GIVEN a gateway and a worker process on a private nats-server and a fresh PostgreSQL database,
WHEN an order goes through, THEN the gateway's console shows what the worker did (relayed):
the stage functions' invocations, the rule's matches, and the order's journey with the
worker's invocations and pushes in its waterfall. A screenshot is kept in ``test-results/``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from pizzabus.devservers.nats import NatsServer
from tests.distributed.cluster import Cluster, running_cluster
from tests.e2e.browser_support import launch_chromium, requires_chromium
from tests.e2e.test_console import LIVE_MS, RESULTS, open_the_order_journey
from tests.e2e.test_observe import _order

pytestmark = [pytest.mark.browser, pytest.mark.e2e, requires_chromium, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def cluster(module_nats_server: NatsServer, module_postgres_dsn: str) -> Iterator[Cluster]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIZZABUS_TRACES_PER_SECOND", "100000")  # every journey traced
        with running_cluster(module_nats_server.url, module_postgres_dsn, 1, 1) as running:
            yield running


@pytest.fixture
def page(cluster: Cluster) -> Iterator[Page]:
    gateway = cluster.gateways[0]
    with sync_playwright() as playwright:
        browser: Browser = launch_chromium(playwright)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{gateway.url}/_pizzabus/?token={gateway.admin_token}")
        expect(page.get_by_test_id("status")).to_contain_text("live", timeout=LIVE_MS)
        yield page
        context.close()
        browser.close()
    assert not errors


def _invocations(page: Page, function: str) -> object:
    return page.locator(f'[data-testid="functions"] tr[data-function="{function}"] td').first


def test_the_console_of_a_gateway_shows_what_the_workers_did(page: Page, cluster: Cluster) -> None:
    # Playwright's sync API runs a loop on this thread: the order runs on one of its own.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _order(cluster.gateways[0])).result(timeout=90)
    for function in ("make_pizza", "cook_pizza", "deliver_pizza"):
        expect(_invocations(page, function)).not_to_have_text("0", timeout=LIVE_MS)
    matched = page.locator('tr[data-rule="lab_make_pizza_rule"] td').first
    expect(matched).not_to_have_text("0", timeout=LIVE_MS)

    # The live processes: the gateway and the worker, as their heartbeats tell.
    processes = page.locator("[data-testid=processes] tbody tr")
    expect(processes).to_have_count(2, timeout=LIVE_MS)
    expect(processes.nth(0)).to_have_attribute("data-kind", "gateway")
    expect(processes.nth(1)).to_have_attribute("data-kind", "worker")
    expect(processes.nth(1).locator("td").nth(3)).to_contain_text("127.0.0.1:")

    open_the_order_journey(page)
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "console-cluster.png"), full_page=True)
