"""One real server per module: the system as a user runs it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.server import Server, start_server


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = start_server(("--memory",))
    yield running
    running.stop()
