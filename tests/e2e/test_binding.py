"""A ``--host`` other than loopback warns, naming what it exposes; loopback does not."""

from __future__ import annotations

import time

import pytest

from pizzabus.cli.serve import exposure_warning
from tests.e2e.server import Server, start_server

pytestmark = pytest.mark.e2e


def _output_when(server: Server, text: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while text not in "".join(server.output) and time.monotonic() < deadline:
        time.sleep(0.05)
    return "".join(server.output)


def test_a_non_loopback_host_warns_naming_what_is_exposed() -> None:
    exposed = start_server(("--memory", "--host", "0.0.0.0"))
    try:
        output = _output_when(exposed, "WARNING")
        assert "WARNING: --host 0.0.0.0 makes this server reachable from other machines" in output
        for surface in ("HTTP API", "WebSocket API", "web client", "admin API", "@connections"):
            assert surface in output
        # The credentials are on all the same.
        assert exposed.stats()["events_published"] == 0
    finally:
        exposed.stop()


def test_loopback_serves_without_a_warning(server: Server) -> None:
    output = _output_when(server, "Press Ctrl+C")
    assert "WARNING" not in output


@pytest.mark.parametrize("host", ["192.168.1.10", "::", "example.org"])
def test_the_warning_names_the_host_and_the_port(host: str) -> None:
    warning = exposure_warning(host, 8123)
    assert f"--host {host}" in warning
    assert "8123" in warning
    assert "127.0.0.1" in warning
