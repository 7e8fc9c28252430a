"""Failing deliveries do not hold the admission budget, and can be listed and cancelled.

Before, a delivery waiting out its retries kept its ``--max-in-flight`` room for up to a day: of
60 orders sent into a function that always fails, at ``--max-in-flight 40``, 21 were throttled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from pizzabus.access.tokens import ADMIN_TOKEN_ENV, TOKEN_HEADER
from tests.e2e.orders import new_order
from tests.e2e.server import REPO, Server, start_server

pytestmark = pytest.mark.e2e

TOKEN = "waiting-retries-token-0123456789"
ADMIN = {TOKEN_HEADER: TOKEN}


@pytest.fixture(scope="module")
def failing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    plan = tmp_path_factory.mktemp("faults") / "faults.json"
    plan.write_text(json.dumps({"functions": {"make_pizza": {"error_rate": 1.0}}}))
    with pytest.MonkeyPatch.context() as env:
        env.setenv(ADMIN_TOKEN_ENV, TOKEN)
        running = start_server(("--memory", "--max-in-flight", "40", "--faults", str(plan)))
    yield running
    running.stop()


def _pizzabus(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pizzabus", *args],
        env={**os.environ, ADMIN_TOKEN_ENV: TOKEN},
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def test_sixty_orders_into_a_failing_function_are_all_accepted_then_cancelled(
    failing_server: Server,
) -> None:
    url = failing_server.url
    # WHEN 60 orders go into make_pizza, which always fails, with room for 40 in flight
    with httpx.Client(timeout=10) as client:
        answers = [client.post(url + "/", json=new_order()) for _ in range(60)]

    # THEN none is throttled: each waits for its retry outside the budget
    assert [a.status_code for a in answers] == [200] * 60
    assert all(a.json()["FailedEntryCount"] == 0 for a in answers)
    waiting = httpx.get(f"{url}/_pizzabus/retries", headers=ADMIN, timeout=10).json()["Retries"]
    assert len(waiting) >= 40
    assert {w["target"] for w in waiting} == {"make_pizza"}

    # AND the CLI lists them and cancels them all into the dead-letter queue
    listed = _pizzabus("retries", "list", "--url", url)
    assert listed.returncode == 0, listed.stderr
    assert "make_pizza" in listed.stdout
    cancelled = _pizzabus("retries", "cancel", "--all", "--url", url)
    assert cancelled.returncode == 0, cancelled.stderr
    assert "Cancelled:" in cancelled.stdout
    letters = httpx.get(f"{url}/_pizzabus/dlq", headers=ADMIN, timeout=10).json()["DeadLetters"]
    assert {letter["reason"] for letter in letters} == {"RetryCancelled"}


def test_cancelling_an_unknown_retry_says_which_and_changes_nothing(
    failing_server: Server,
) -> None:
    failed = _pizzabus("retries", "cancel", "r-404", "--url", failing_server.url)
    assert failed.returncode != 0
    assert "No delivery waiting for a retry with id r-404;" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_retries_cancel_needs_ids_or_all() -> None:
    failed = _pizzabus("retries", "cancel")
    assert failed.returncode == 2
    assert "name the retries to cancel, or pass --all" in failed.stderr
