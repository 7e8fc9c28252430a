"""pytest fixtures: a private nats-server with JetStream on a free loopback port and a temp store
(never the machine's shared one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pizzabus.devservers.nats import NatsServer, start_nats


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    """A fresh nats-server for one test."""
    server = start_nats()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def module_nats_server() -> Iterator[NatsServer]:
    """A nats-server shared by a module's tests."""
    server = start_nats()
    yield server
    server.stop()
