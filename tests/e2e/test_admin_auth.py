"""The admin API (``/_pizzabus/``) needs the server's admin token on every route; pizzabus
commands on the same machine find it in the server's record, with no flag."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pizzabus.access import ADMIN_COOKIE, ADMIN_TOKEN_ENV, RUNTIME_DIR_ENV, find_server
from tests.e2e.server import REPO, Server, start_server

pytestmark = pytest.mark.e2e

ADMIN_ROUTES = [
    ("GET", "/stats"),
    ("GET", "/dlq"),
    ("DELETE", "/dlq"),
    ("POST", "/dlq/redrive"),
    ("GET", "/dlq/some-letter"),
    ("GET", "/replays"),
    ("POST", "/replays"),
    ("GET", "/replays/some-replay"),
    ("POST", "/replays/some-replay/cancel"),
    ("GET", "/faults"),
    ("PUT", "/faults"),
    ("GET", "/no-such-route"),
]


def _pizzabus(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pizzabus", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=env,
    )


@pytest.mark.parametrize(
    ("method", "path"), ADMIN_ROUTES, ids=[f"{m} {p}" for m, p in ADMIN_ROUTES]
)
def test_every_admin_route_answers_401_json_without_the_token(
    server: Server, method: str, path: str
) -> None:
    for headers in ({}, {"X-Pizzabus-Token": "wrong"}, {"Authorization": "Bearer wrong"}):
        response = httpx.request(
            method, f"{server.url}/_pizzabus{path}", json={}, headers=headers, timeout=10
        )
        assert response.status_code == 401, (headers, response.text)
        assert "admin token" in response.json()["message"]
        assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("carrier", ["header", "bearer", "cookie", "query"])
def test_the_token_opens_the_admin_api_from_any_carrier(server: Server, carrier: str) -> None:
    token = server.admin_token
    url = f"{server.url}/_pizzabus/stats"
    if carrier == "header":
        response = httpx.get(url, headers={"X-Pizzabus-Token": token}, timeout=10)
    elif carrier == "bearer":
        response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    elif carrier == "cookie":
        response = httpx.get(url, headers={"Cookie": f"{ADMIN_COOKIE}={token}"}, timeout=10)
    else:
        response = httpx.get(url, params={"token": token}, timeout=10)
    assert response.status_code == 200, response.text
    assert "events_published" in response.json()


def test_the_server_publishes_its_token_in_a_private_record_and_says_where(server: Server) -> None:
    record = find_server(server.url)
    assert record is not None
    assert record.pid == server.process.pid
    assert record.url == server.url
    path = next(line for line in server.output if "admin token" in line).split(" in ")[1]
    path = path.split(" (")[0].strip()
    mode = os.stat(path).st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    # The location, not the token; the token is printed once, in the console's URL (issue 12:
    # "a URL printed at start that carries the token once, as Jupyter does").
    carrying = [line for line in server.output if record.admin_token in line]
    assert len(carrying) == 1
    assert f"{server.url}/_pizzabus/?token={record.admin_token}" in carrying[0]


def test_cli_commands_find_the_token_with_no_flag(server: Server) -> None:
    shown = _pizzabus("faults", "show", "--url", server.url)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["functions"] == {}
    listed = _pizzabus("dlq", "list", "--url", server.url)
    assert listed.returncode == 0, listed.stderr
    assert "empty" in listed.stdout


def test_token_flag_and_environment_override_the_record(server: Server) -> None:
    wrong = _pizzabus("dlq", "list", "--url", server.url, "--token", "not-the-token")
    assert wrong.returncode != 0
    assert "refused the admin token" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    env = dict(os.environ, **{ADMIN_TOKEN_ENV: "not-the-token-either"})
    assert _pizzabus("dlq", "list", "--url", server.url, env=env).returncode != 0
    env[ADMIN_TOKEN_ENV] = server.admin_token
    assert _pizzabus("dlq", "list", "--url", server.url, env=env).returncode == 0
    right = _pizzabus("dlq", "list", "--url", server.url, "--token", server.admin_token)
    assert right.returncode == 0, right.stderr


def test_a_given_token_is_used_and_the_record_goes_when_the_server_stops() -> None:
    token = "a-token-chosen-by-the-user-0123456789"
    given = start_server(("--memory", "--admin-token", token))
    try:
        record = find_server(given.url)
        assert record is not None
        assert record.admin_token == token
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{given.url}/_pizzabus/stats", headers=headers).status_code == 200
    finally:
        given.stop()
    assert find_server(given.url) is None


def test_a_weak_given_token_is_refused_in_one_line() -> None:
    refused = _pizzabus("serve", "--memory", "--port", "0", "--admin-token", "short")
    assert refused.returncode != 0
    assert "at least 16" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_without_a_runtime_directory_the_server_shows_its_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_text("")
    monkeypatch.setenv(RUNTIME_DIR_ENV, str(not_a_directory))
    shown = start_server(("--memory",))
    try:
        line = next(line for line in shown.output if "admin token" in line)
        assert "could not be written" in line
        token = line.split()[2]
        headers = {"X-Pizzabus-Token": token}
        assert httpx.get(f"{shown.url}/_pizzabus/stats", headers=headers).status_code == 200
    finally:
        shown.stop()
