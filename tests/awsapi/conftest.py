"""One real ``pizzabus serve`` for the AWS API tests, and real boto3 clients pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.e2e.conftest import private_runtime_dir
from tests.e2e.server import Server, start_server

__all__ = ["private_runtime_dir"]

REGION = "eu-central-1"

Clients = Callable[..., Any]


@pytest.fixture(scope="session")
def aws_server(private_runtime_dir: None) -> Iterator[Server]:
    running = start_server(("--memory", "--system", "tests.awsapi.system:SYSTEM"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def client(aws_server: Server) -> Clients:
    """``client("dynamodb")``: a real boto3 client for the server, signed by its credentials
    (``secret=`` signs with another secret, ``unsigned=True`` does not sign)."""

    def make(service: str, *, secret: str | None = None, unsigned: bool = False) -> Any:
        config = Config(retries={"max_attempts": 1})
        if unsigned:
            from botocore import UNSIGNED

            config = config.merge(Config(signature_version=UNSIGNED))
        return boto3.client(
            service,
            endpoint_url=aws_server.url,
            region_name=REGION,
            aws_access_key_id="pizzabus",
            aws_secret_access_key=secret or aws_server.admin_token,
            config=config,
        )

    return make
