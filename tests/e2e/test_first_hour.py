"""A newcomer's first hour, against real servers: Ctrl+C, one server per data directory, the
banner, what `order` says when orders stall or the URL is wrong, and the watchable pace."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import REPO, Server, start_server

pytestmark = pytest.mark.e2e


def _pizzabus(
    *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pizzabus", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
    )


def test_ctrl_c_stops_the_server_with_one_line_and_exit_code_0() -> None:
    running = start_server(("--memory",))
    running.stop(signal.SIGINT)
    output = "".join(running.output)
    assert running.process.returncode == 0, output
    assert output.count("pizzabus stopped.") == 1
    assert "Aborted" not in output
    assert "Traceback" not in output


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_ctrl_c_says_the_same_when_the_server_inherited_sigint_ignored() -> None:
    # A script's background job (`pizzabus serve &`) starts with SIGINT ignored; uvicorn still
    # stops on it once serving, and then has no KeyboardInterrupt to raise.
    running = start_server(("--memory",), preexec=_ignore_sigint)
    httpx.get(running.url + "/", timeout=30).raise_for_status()  # serving: uvicorn took SIGINT
    running.stop(signal.SIGINT)
    output = "".join(running.output)
    assert running.process.returncode == 0, output
    assert output.count("pizzabus stopped.") == 1
    assert "Traceback" not in output


def test_a_second_server_on_a_data_directory_in_use_is_refused_naming_the_first(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    first = start_server(("--data-dir", str(data)))
    try:
        second = _pizzabus("serve", "--port", "0", "--data-dir", str(data), timeout=30)
        assert second.returncode == 1
        assert f"the data directory {data} is in use by another pizzabus server" in second.stderr
        assert f"pid {first.process.pid}, {first.url}" in second.stderr
        assert "--data-dir" in second.stderr
    finally:
        first.stop()
    # Once the first has stopped, the directory is free again.
    third = start_server(("--data-dir", str(data)))
    third.stop()


def test_memory_with_a_data_directory_is_refused(tmp_path: Path) -> None:
    refused = _pizzabus("serve", "--memory", "--data-dir", str(tmp_path), "--port", "0")
    assert refused.returncode == 2
    assert "--memory keeps nothing on disk, so --data-dir would be ignored" in refused.stderr


def test_the_banner_lists_the_web_client_and_how_long_failures_are_retried(
    server: Server,
) -> None:
    banner = "".join(server.output)
    assert f"web client     {server.url}/" in banner
    assert "retries        185 retries within 24 h, then the dead-letter queue" in banner
    assert "(AWS default; --max-retry-attempts/--max-event-age shorten it)" in banner


def test_order_with_a_scheme_less_url_places_and_follows_the_order(server: Server) -> None:
    address = server.url.removeprefix("http://")
    done = _pizzabus("order", "--url", address, "--count", "2")
    assert done.returncode == 0, done.stderr
    assert "2/2 delivered" in done.stdout


def test_order_found_through_pizzabus_url(server: Server) -> None:
    env = dict(os.environ, PIZZABUS_URL=server.url)
    done = _pizzabus("order", env=env)
    assert done.returncode == 0, done.stderr
    assert "1/1 delivered" in done.stdout


def test_an_order_that_stalls_says_at_which_stage_and_where_to_look(tmp_path: Path) -> None:
    plan = tmp_path / "faults.json"
    plan.write_text(json.dumps({"functions": {"deliver_pizza": {"error_rate": 1.0}}}))
    data = str(tmp_path / "data")  # durable: dead letters get their full-length ids
    failing = start_server(("--data-dir", data, "--faults", str(plan), "--max-retry-attempts", "0"))
    try:
        stalled = _pizzabus("order", "--url", failing.url, "--timeout", "4")
        env = dict(os.environ, PIZZABUS_URL=failing.url, COLUMNS="80")
        letters = httpx.get(
            f"{failing.url}/_pizzabus/dlq", headers=failing.admin_headers, timeout=10
        ).json()["DeadLetters"]
        listed = _pizzabus("dlq", "list", env=env)
    finally:
        failing.stop()
    # The dead letter's id is whole at 80 columns, so it can be copied into `dlq show`.
    assert letters
    assert len(letters[0]["id"]) > 10
    assert letters[0]["id"] in listed.stdout
    assert stalled.returncode == 1
    message = stalled.stderr
    assert "1 order(s) did not complete" in message
    assert "stopped after deliver_pizza (delivered never reported)" in message
    for hint in ("pizzabus faults show", "pizzabus dlq list", "pizzabus trace"):
        assert hint in message
    assert "Is `pizzabus serve` running" not in message


def test_ordering_from_a_server_of_another_system_says_so(tmp_path: Path) -> None:
    signups = start_server(
        ("--memory", "--system", "signups.system:SYSTEM"), cwd=REPO / "examples" / "signups"
    )
    try:
        refused = _pizzabus("order", "--url", signups.url, "--timeout", "5")
    finally:
        signups.stop()
    assert refused.returncode == 1
    assert "refused the connection (403)" in refused.stderr
    assert "has no WebSocket API at this path (it may serve another system)" in refused.stderr
    assert "Is `pizzabus serve` running" not in refused.stderr


def test_stage_delay_ms_slows_each_stage_so_a_person_can_watch() -> None:
    slow = start_server(
        ("--memory",), env=dict(os.environ, PYTHONPATH=str(REPO), STAGE_DELAY_MS="400")
    )
    try:
        done = _pizzabus("order", "--url", slow.url, "--timeout", "20")
    finally:
        slow.stop()
    assert done.returncode == 0, done.stderr
    times = [int(t) for t in re.findall(r"(\d+) ms", done.stdout.split("delivered in")[0])]
    # make → cook → deliver → delivered: three stage functions, each at least 0.4 s.
    assert times[-1] >= 3 * 400, done.stdout


def test_a_stage_delay_that_is_not_one_is_refused_at_start() -> None:
    refused = _pizzabus(
        "serve", "--memory", "--port", "0", env=dict(os.environ, STAGE_DELAY_MS="soon")
    )
    assert refused.returncode == 2
    assert "STAGE_DELAY_MS must be a whole number of milliseconds from 0 to 2000" in refused.stderr
