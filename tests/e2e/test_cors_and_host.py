"""CORS is the HTTP API's alone; the control routes (admin, ``@connections``) never answer a
cross-origin request and refuse a ``Host`` that is not the server's (DNS rebinding)."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.orders import new_order
from tests.e2e.server import Server

pytestmark = pytest.mark.e2e

ORIGIN = {"Origin": "https://evil.example"}
PREFLIGHT = {
    **ORIGIN,
    "Access-Control-Request-Method": "DELETE",
    "Access-Control-Request-Headers": "x-pizzabus-token",
}


def _port(server: Server) -> int:
    port = urlsplit(server.url).port
    assert port is not None
    return port


def test_the_http_api_keeps_its_cors(server: Server) -> None:
    posted = httpx.post(f"{server.url}/", json=new_order(), headers=ORIGIN, timeout=10)
    assert posted.headers["access-control-allow-origin"] == "*"
    preflight = httpx.options(
        f"{server.url}/",
        headers={**ORIGIN, "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/_pizzabus/stats"),
        ("DELETE", "/_pizzabus/dlq"),
        ("OPTIONS", "/_pizzabus/dlq"),
        ("POST", "/production/@connections/bm9uZXN1Y2g="),
        ("OPTIONS", "/production/@connections/bm9uZXN1Y2g="),
    ],
)
def test_control_routes_send_no_cors_headers(server: Server, method: str, path: str) -> None:
    for headers in (ORIGIN, PREFLIGHT, {**ORIGIN, **server.admin_headers}):
        response = httpx.request(method, f"{server.url}{path}", headers=headers, timeout=10)
        assert not any(h.startswith("access-control-") for h in response.headers), (
            method,
            path,
            dict(response.headers),
        )


def test_the_web_client_page_sends_no_cors_headers(server: Server) -> None:
    page = httpx.get(f"{server.url}/", headers=ORIGIN, timeout=10)
    assert page.status_code == 200
    assert "access-control-allow-origin" not in page.headers


@pytest.mark.parametrize(
    "host", ["evil.example:{port}", "evil.example", "127.0.0.1.nip.io:{port}", "localhost.:{port}"]
)
def test_control_routes_refuse_a_foreign_host(server: Server, host: str) -> None:
    headers = {**server.admin_headers, "Host": host.format(port=_port(server))}
    for path in ("/_pizzabus/stats", "/production/@connections/bm9uZXN1Y2g="):
        response = httpx.get(f"{server.url}{path}", headers=headers, timeout=10)
        assert response.status_code == 421, (path, response.text)
        assert "DNS rebinding" in response.json()["message"]


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}"])
def test_control_routes_answer_the_loopback_names(server: Server, host: str) -> None:
    headers = {**server.admin_headers, "Host": host.format(port=_port(server))}
    response = httpx.get(f"{server.url}/_pizzabus/stats", headers=headers, timeout=10)
    assert response.status_code == 200, response.text


def test_the_http_api_answers_any_host(server: Server) -> None:
    response = httpx.post(
        f"{server.url}/", json=new_order(), headers={"Host": "pizza.example"}, timeout=10
    )
    assert response.status_code == 200
