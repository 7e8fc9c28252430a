"""Client commands find their server: ``--url`` at any level, ``PIZZABUS_URL``, the one server
running on this machine, then the default; a URL without a scheme is taken as http.

Each command here is pointed at a loopback port nothing listens on, so its error message names
the URL it used, and no server is needed.
"""

from __future__ import annotations

import http.server
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from pizzabus.access import RUNTIME_DIR_ENV, ServerRecord, write_server_record
from pizzabus.cli.main import cli
from pizzabus.cli.order import websocket_url
from pizzabus.cli.server_url import DEFAULT_URL, normalize_url, resolve_url


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty runtime directory of this test's own, and no PIZZABUS_URL."""
    directory = tmp_path / "run"
    directory.mkdir(mode=0o700)
    monkeypatch.setenv(RUNTIME_DIR_ENV, str(directory))
    monkeypatch.delenv("PIZZABUS_URL", raising=False)
    return directory


@pytest.fixture
def closed_ports() -> Iterator[list[int]]:
    """Two loopback ports, bound but not listening: a connection there is refused."""
    sockets = [socket.socket(), socket.socket()]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    yield [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()


def _record(port: int) -> ServerRecord:
    return ServerRecord(
        url=f"http://127.0.0.1:{port}",
        host="127.0.0.1",
        port=port,
        pid=os.getpid(),  # alive: the record is not stale
        admin_token="t",
        data_dir=None,
        started_at=1.0,
    )


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(("dlq", "--url", "{url}", "list"), id="on the group"),
        pytest.param(("dlq", "list", "--url", "{url}"), id="on the subcommand"),
        pytest.param(("faults", "--url", "{url}", "show"), id="faults group"),
        pytest.param(("replay", "--url", "{url}", "list"), id="replay group"),
        pytest.param(("replay", "list", "--url", "{url}"), id="replay subcommand"),
    ],
)
def test_url_is_taken_on_the_group_or_the_subcommand(
    where: tuple[str, ...], runtime: Path, closed_ports: list[int]
) -> None:
    url = f"127.0.0.1:{closed_ports[0]}"  # no scheme: http is assumed
    code, output = _run(*(part.format(url=url) for part in where))
    assert code == 1
    assert f"cannot reach a pizzabus server at http://{url}" in output


def test_the_subcommands_url_wins_over_the_groups(runtime: Path, closed_ports: list[int]) -> None:
    group, sub = (f"http://127.0.0.1:{port}" for port in closed_ports)
    code, output = _run("dlq", "--url", group, "list", "--url", sub)
    assert code == 1
    assert f"at {sub}" in output


def test_pizzabus_url_reaches_a_server_on_another_port(
    runtime: Path, closed_ports: list[int]
) -> None:
    url = f"http://127.0.0.1:{closed_ports[0]}"
    code, output = _run("dlq", "list", env={"PIZZABUS_URL": url})
    assert code == 1
    assert f"cannot reach a pizzabus server at {url}" in output


def test_the_one_server_running_is_found_without_flags(
    runtime: Path, closed_ports: list[int]
) -> None:
    write_server_record(_record(closed_ports[0]), runtime)
    code, output = _run("faults", "show")
    assert code == 1
    assert f"at http://127.0.0.1:{closed_ports[0]}" in output


def test_with_several_servers_running_the_command_asks_which(
    runtime: Path, closed_ports: list[int]
) -> None:
    for port in closed_ports:
        write_server_record(_record(port), runtime)
    code, output = _run("dlq", "list")
    assert code == 2
    assert "2 pizzabus servers run on this machine" in output
    assert "--url" in output


def test_with_no_server_running_the_default_is_used(
    runtime: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PORT", raising=False)
    with click.Context(click.Command("x")):
        assert resolve_url() == DEFAULT_URL


def test_port_as_serve_reads_it_names_the_local_server(
    runtime: Path, closed_ports: list[int]
) -> None:
    code, output = _run("dlq", "list", env={"PORT": str(closed_ports[0])})
    assert code == 1
    assert f"cannot reach a pizzabus server at http://127.0.0.1:{closed_ports[0]}" in output


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("localhost:9000/", "http://localhost:9000/"),
        ("https://abc.execute-api.eu-west-1.amazonaws.com/", None),
        (" http://[::1]:8000 ", "http://[::1]:8000"),
    ],
)
def test_a_url_without_a_scheme_is_taken_as_http(given: str, expected: str | None) -> None:
    assert normalize_url(given) == (expected or given)


@pytest.mark.parametrize("bad", ["ftp://host/", "http://", "127.0.0.1:port"])
def test_a_url_that_is_not_one_is_refused_saying_what_a_good_one_is(bad: str) -> None:
    with pytest.raises(click.BadParameter, match=r"http://127\.0\.0\.1:8000|port"):
        normalize_url(bad)


def test_the_websocket_url_of_a_scheme_less_url_is_a_valid_uri() -> None:
    assert websocket_url(normalize_url("127.0.0.1:8000")) == "ws://127.0.0.1:8000/ws"


def test_faults_set_without_a_function_is_an_error_and_changes_nothing(runtime: Path) -> None:
    code, output = _run("faults", "set", "--error-rate", "0.5", "--url", "http://127.0.0.1:9")
    assert code == 2
    assert "name the function to make fail" in output
    assert "cannot reach" not in output  # refused before any call to the server


class _Files(http.server.SimpleHTTPRequestHandler):
    """Some other web server: the files of a folder, a 404 page for anything else."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(Path(__file__).parent), **kwargs)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_url_that_is_not_a_pizzabus_server_is_said_so(runtime: Path) -> None:
    """A web server that is not pizzabus answers 404 in HTML, not "is serve running?"."""
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files) as web:
        thread = threading.Thread(target=web.serve_forever, daemon=True)
        thread.start()
        try:
            code, output = _run("dlq", "list", "--url", f"127.0.0.1:{web.server_port}")
        finally:
            web.shutdown()
    assert code == 1
    assert "it is not a pizzabus server" in output
    assert "cannot reach" not in output
