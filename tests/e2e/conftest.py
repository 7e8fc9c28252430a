"""One real server per module: the system as a user runs it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from pizzabus.access import RUNTIME_DIR_ENV
from tests.e2e.browser_support import launch_chromium
from tests.e2e.server import Server, start_server


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = start_server(("--memory",))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, for a module's browser tests (they skip, saying so, where
    it is not installed: see ``requires_chromium``)."""
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="session", autouse=True)
def private_runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The tests' servers, and the commands they run, keep their records (with their admin
    tokens) in a directory of their own, away from the user's servers."""
    before = os.environ.get(RUNTIME_DIR_ENV)
    os.environ[RUNTIME_DIR_ENV] = str(tmp_path_factory.mktemp("run"))
    yield
    if before is None:
        del os.environ[RUNTIME_DIR_ENV]
    else:
        os.environ[RUNTIME_DIR_ENV] = before
