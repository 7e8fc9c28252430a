"""Hot reload: a handler saved while the server runs takes effect on the next order.

GIVEN ``pizzabus serve`` on a copy of the lab's handlers, WHEN ``make_pizza.py`` is edited,
THEN the next order runs the new code; a syntax error fails make_pizza with Lambda's
``Runtime.UserCodeSyntaxError`` (retried), and the next good save lets the order through.
No sleeps: each step waits on the server's own "reloaded" line, with a generous timeout.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from pizzabus.pizza.system import FUNCTIONS_DIR
from tests.e2e.orders import new_order
from tests.e2e.server import Server, start_server

pytestmark = pytest.mark.e2e

EDITED = '''"""make_pizza, edited while the server runs."""

import pipeline


def lambda_handler(event, context):
    event["detail"]["item"]["edition"] = {edition!r}
    return pipeline.advance(event, "cook_pizza", source="make_pizza")
'''


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = tmp_path / "functions"
    shutil.copytree(FUNCTIONS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


@pytest.fixture
def server(code: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("PIZZABUS_TEST_CODE_DIR", str(code))
    running = start_server(("--memory", "--system", "tests.e2e.reload_system:SYSTEM"))
    yield running
    running.stop()


def _reloads(server: Server) -> int:
    return sum("reloaded make_pizza" in line for line in list(server.output))


def save_and_wait_for_reload(server: Server, path: Path, text: str, timeout: float = 30.0) -> None:
    """Save ``text`` and wait for the server to say it reloaded; saved again every few seconds
    (a save made while the watcher was still starting is not seen)."""
    before = _reloads(server)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path.write_text(text)
        resave = time.monotonic() + 3.0
        while time.monotonic() < min(resave, deadline):
            if _reloads(server) > before:
                return
            time.sleep(0.05)
        text += "\n"
    raise AssertionError("the server never reloaded:\n" + "".join(server.output[-30:]))


async def _stages(server: Server, timeout: float = 30.0) -> list[dict[str, Any]]:
    order = new_order()
    order_id = order["item"]["order_id"]
    items: list[dict[str, Any]] = []
    async with (
        websockets.connect(f"{server.ws_url}?order_id={order_id}") as socket,
        httpx.AsyncClient() as client,
    ):
        response = await client.post(server.url + "/", json=order)
        assert response.status_code == 200, response.text
        async with asyncio.timeout(timeout):
            async for frame in socket:
                items.append(json.loads(frame)["item"])
                if items[-1]["eventtype"] == "delivered":
                    return items
    return items


def test_an_edited_handler_takes_effect_on_the_next_order(server: Server, code: Path) -> None:
    first = asyncio.run(_stages(server))
    assert [i["eventtype"] for i in first][-1] == "delivered"
    assert "edition" not in first[1]

    save_and_wait_for_reload(server, code / "make_pizza.py", EDITED.format(edition="second"))
    second = asyncio.run(_stages(server))
    assert second[1]["eventtype"] == "cook_pizza"
    assert second[1]["edition"] == "second"
    assert any("make_pizza.py changed" in line for line in server.output)


def test_a_syntax_error_fails_until_the_next_good_save(server: Server, code: Path) -> None:
    asyncio.run(_stages(server))  # warm
    handler = code / "make_pizza.py"
    save_and_wait_for_reload(server, handler, "def lambda_handler(event, context:\n")

    async def order_across_the_fix() -> list[dict[str, Any]]:
        follow = asyncio.create_task(_stages(server, timeout=60))
        # The order's make_pizza fails with Lambda's error, and is retried.
        deadline = time.monotonic() + 30
        while not any("Runtime.UserCodeSyntaxError" in line for line in list(server.output)):
            assert time.monotonic() < deadline, "".join(server.output[-30:])
            await asyncio.sleep(0.05)
        await asyncio.to_thread(
            save_and_wait_for_reload, server, handler, EDITED.format(edition="fixed")
        )
        return await follow

    items = asyncio.run(order_across_the_fix())
    assert [i["eventtype"] for i in items] == [
        "make_pizza",
        "cook_pizza",
        "deliver_pizza",
        "delivered",
    ]
    assert items[1]["edition"] == "fixed"
    # The bus saw make_pizza fail with Lambda's error and retried it (the invocation log's own
    # [ERROR] line is checked in tests/telemetry/test_invocation_log.py).
    retried = [line for line in server.output if "make_pizza: attempt" in line]
    assert any("Runtime.UserCodeSyntaxError" in line for line in retried), "".join(server.output)
