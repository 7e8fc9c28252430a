"""The control routes' door: which Host names a server answers to, and who holds the token."""

from __future__ import annotations

import pytest

from pizzabus.gateway.guard import ControlGuard, allowed_hosts, json_refusal

TOKEN = "the-admin-token-of-this-server"


def _scope(host: str | None, headers: dict[str, str] | None = None, query: str = "") -> dict:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if host is not None:
        raw.append((b"host", host.encode()))
    return {"type": "http", "headers": raw, "query_string": query.encode()}


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        (
            "http://127.0.0.1:8123",
            {"127.0.0.1:8123", "localhost:8123", "[::1]:8123"},
        ),
        ("http://[::1]:9", {"[::1]:9", "localhost:9", "127.0.0.1:9"}),
        ("http://0.0.0.0:80", {"0.0.0.0:80", "0.0.0.0", "localhost", "localhost:80", "[::1]"}),
        ("http://pizza.lan:8000", {"pizza.lan:8000"}),
    ],
)
def test_allowed_hosts_are_the_bound_name_and_loopback_names(
    base_url: str, expected: set[str]
) -> None:
    assert expected <= allowed_hosts(base_url)
    if "pizza.lan" in base_url:
        assert allowed_hosts(base_url) == frozenset(expected)


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:8123", True),
        ("localhost:8123", True),
        ("192.168.1.5:8123", True),  # an IP literal cannot be rebound
        ("[fe80::1]:8123", True),
        ("localhost:9999", False),
        ("evil.example:8123", False),
        ("", False),
    ],
)
def test_the_host_check(host: str, allowed: bool) -> None:
    guard = ControlGuard(TOKEN, allowed_hosts("http://127.0.0.1:8123"))
    refusal = guard.host_refusal(_scope(host or None))
    assert (refusal is None) == allowed
    if refusal is not None:
        assert refusal[0] == 421


@pytest.mark.parametrize(
    ("headers", "query", "admitted"),
    [
        ({"X-Pizzabus-Token": TOKEN}, "", True),
        ({"Authorization": f"Bearer {TOKEN}"}, "", True),
        ({"Cookie": f"pizzabus_admin={TOKEN}"}, "", True),
        ({}, f"token={TOKEN}", True),
        ({}, "token=nope", False),
        ({"X-Pizzabus-Token": "nope"}, "", False),
        ({}, "", False),
    ],
    ids=["header", "bearer", "cookie", "query", "bad-query", "bad-header", "none"],
)
def test_the_token_check(headers: dict[str, str], query: str, admitted: bool) -> None:
    guard = ControlGuard(TOKEN, allowed_hosts("http://127.0.0.1:8123"))
    refusal = guard.token_refusal(_scope("127.0.0.1:8123", headers, query))
    assert (refusal is None) == admitted


def test_a_refusal_is_json_and_a_401_says_how_to_authenticate() -> None:
    start, body = json_refusal(401, {"message": "no"})
    assert start["status"] == 401
    headers = dict(start["headers"])  # type: ignore[arg-type]
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"www-authenticate"].startswith(b"Bearer")
    assert body == b'{"message": "no"}'
    start, _ = json_refusal(421, {"message": "no"})
    assert b"www-authenticate" not in dict(start["headers"])  # type: ignore[arg-type]
