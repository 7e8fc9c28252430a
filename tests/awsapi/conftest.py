"""A real server on loopback for the AWS API tests (in this process, so that its code is
measured), and real boto3 clients pointed at it. The AWS CLI smoke suite runs against a real
``pizzabus serve`` instead."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from tests.awsapi.local_server import LocalServer, start_local_server
from tests.awsapi.system import SYSTEM
from tests.e2e.conftest import private_runtime_dir

__all__ = ["private_runtime_dir"]

REGION = "eu-central-1"

Clients = Callable[..., Any]


@pytest.fixture(scope="session")
def aws_server() -> Iterator[LocalServer]:
    running = start_local_server(SYSTEM)
    yield running
    running.stop()


def boto3_clients(url: str, admin_token: str) -> Iterator[Clients]:
    """``make("dynamodb")``: a real boto3 client for the server at ``url``, signed by its
    credentials (``secret=`` signs with another secret, ``unsigned=True`` does not sign); each
    kind is made once, and closed at the end."""
    made: dict[tuple[str, str | None, bool], Any] = {}

    def make(service: str, *, secret: str | None = None, unsigned: bool = False) -> Any:
        key = (service, secret, unsigned)
        if key not in made:
            config = Config(retries={"max_attempts": 1})
            if unsigned:
                config = config.merge(Config(signature_version=UNSIGNED))
            made[key] = boto3.client(
                service,
                endpoint_url=url,
                region_name=REGION,
                aws_access_key_id="pizzabus",
                aws_secret_access_key=secret or admin_token,
                config=config,
            )
        return made[key]

    yield make
    for made_client in made.values():
        made_client.close()


@pytest.fixture(scope="session")
def client(aws_server: LocalServer) -> Iterator[Clients]:
    """Real boto3 clients for the in-process server (:func:`boto3_clients`)."""
    yield from boto3_clients(aws_server.url, aws_server.admin_token)
