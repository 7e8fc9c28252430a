"""A real server on loopback, attacked as a hostile client would.

The server gets a known admin token through the environment (the admin API requires one), and
keeps its record in the tests' own runtime directory, away from the user's.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pizzabus.access.tokens import ADMIN_TOKEN_ENV, TOKEN_HEADER
from tests.e2e.conftest import private_runtime_dir
from tests.e2e.server import Server, start_server

__all__ = ["private_runtime_dir"]  # servers keep their records away from the user's

TOKEN = "hostile-suite-token-0123456789"
ADMIN_HEADERS = {TOKEN_HEADER: TOKEN}


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv(ADMIN_TOKEN_ENV, TOKEN)
        running = start_server(("--memory",))
    yield running
    running.stop()
    assert_no_traceback(running)


def assert_no_traceback(server: Server) -> None:
    """The server said nothing of an unexpected exception (a 5xx would log one)."""
    output = "".join(server.output)
    assert "Traceback" not in output, output[-4000:]
    assert not re.search(r"Exception in ASGI application", output), output[-4000:]


def admin(server: Server, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method, f"{server.url}/_pizzabus{path}", headers=ADMIN_HEADERS, timeout=30, **kwargs
    )


def wait_delivered(server: Server, order_ids: list[str], timeout: float = 60.0) -> list[str]:
    """The orders of ``order_ids`` whose timeline has not reached ``delivered`` in time."""
    missing = list(order_ids)
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=10) as client:
        while missing and time.monotonic() < deadline:
            still = []
            for order_id in missing:
                answer = client.get(f"{server.url}/orders/{order_id}")
                events = answer.json().get("events", []) if answer.status_code == 200 else []
                if not events or events[-1]["item"]["eventtype"] != "delivered":
                    still.append(order_id)
            missing = still
            if missing:
                time.sleep(0.2)
    return missing
