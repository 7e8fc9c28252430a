"""A real HTTP server on loopback in this process: uvicorn serving an ``EmbeddedSystem``'s app
on its own thread, so real boto3 talks to it over real sockets and the server's code is
measured by the tests' coverage (a ``pizzabus serve`` subprocess is not)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn

from pizzabus.access import TOKEN_HEADER, generate_token
from pizzabus.embedded import EmbeddedSystem, Settings


@dataclass
class LocalServer:
    """A running in-process server: its URL and its credentials."""

    url: str
    admin_token: str
    system: EmbeddedSystem
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def admin_headers(self) -> dict[str, str]:
        return {TOKEN_HEADER: self.admin_token}

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def start_local_server(definition: Any, timeout: float = 30.0) -> LocalServer:
    """Serve ``definition`` (in memory) on a free loopback port until :meth:`LocalServer.stop`."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    token = generate_token()
    system = EmbeddedSystem(definition, Settings(data_dir=None, base_url=url, admin_token=token))
    server = uvicorn.Server(
        uvicorn.Config(system.app, lifespan="on", log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the in-process server at {url} did not start")
        time.sleep(0.02)
    return LocalServer(url, token, system, server, thread)
