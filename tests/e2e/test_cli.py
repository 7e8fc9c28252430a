"""The commands a user types, against a real server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.server import REPO, Server, server_env

pytestmark = pytest.mark.e2e


def _pizzabus(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pizzabus", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=server_env(),
    )


def test_order_places_orders_and_reports_them_delivered(server: Server) -> None:
    done = _pizzabus("order", "--url", server.url + "/", "--count", "5", "--pizza", "diavola")
    assert done.returncode == 0, done.stderr
    assert "5/5 delivered" in done.stdout


def test_order_against_no_server_fails_with_a_clear_message() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: nothing answers here
        failed = _pizzabus("order", "--url", f"http://127.0.0.1:{port}/", "--timeout", "5")
    assert failed.returncode != 0
    assert "did not complete" in failed.stderr
    assert "pizzabus serve" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_serve_on_a_busy_port_says_so_and_how_to_fix_it(server: Server) -> None:
    port = server.url.rsplit(":", 1)[1]
    busy = _pizzabus("serve", "--memory", "--port", port, timeout=30)
    assert busy.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in busy.stderr
    assert "--port" in busy.stderr
    assert "Traceback" not in busy.stderr


def test_serve_with_a_bad_fault_plan_refuses_to_start(tmp_path: Path) -> None:
    plan = tmp_path / "faults.json"
    plan.write_text(json.dumps({"functions": {"no_such_function": {"error_rate": 0.5}}}))
    refused = _pizzabus("serve", "--memory", "--port", "0", "--faults", str(plan), timeout=30)
    assert refused.returncode == 1
    assert "No function named 'no_such_function'" in refused.stderr


def test_an_invalid_rule_pattern_fails_at_start_up_with_awss_message_and_the_rule() -> None:
    refused = _pizzabus(
        "serve",
        "--memory",
        "--port",
        "0",
        "--system",
        "tests.e2e.test_systems:INVALID_RULE",
        timeout=30,
    )
    assert refused.returncode == 1
    assert "rule 'broken_rule' on event bus 'lab_event_bus'" in refused.stderr
    assert "Event pattern is not valid. Reason: Empty arrays are not allowed" in refused.stderr


def test_dlq_list_without_a_server_says_how_to_start_one() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        failed = _pizzabus("dlq", "list", "--url", f"http://127.0.0.1:{port}")
    assert failed.returncode == 1
    assert "cannot reach a pizzabus server" in failed.stderr
    assert "pizzabus serve" in failed.stderr
