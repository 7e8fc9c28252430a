"""The real AWS CLI against a gateway of a cluster (the lab's system on a private nats-server
and a fresh PostgreSQL database), configured by nothing but ``eval "$(pizzabus env --url …)"``:
the AWS CLI suite of ``tests/awsapi`` unchanged, with ``lab`` a cluster gateway."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pizzabus.devservers.nats import NatsServer
from tests.awsapi.test_aws_cli import (
    aws_env,
    test_a_cli_with_another_secret_gets_403,
    test_an_order_put_with_the_cli_completes_on_a_socket_and_in_the_table,
    test_list_rules_lists_the_four_rules,
    test_pizzabus_env_finds_the_server_and_its_token_by_url,
    test_the_same_calls_without_credentials_get_403,
)
from tests.distributed.cluster import running_cluster
from tests.e2e.server import Server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

__all__ = [
    "aws_env",
    "test_a_cli_with_another_secret_gets_403",
    "test_an_order_put_with_the_cli_completes_on_a_socket_and_in_the_table",
    "test_list_rules_lists_the_four_rules",
    "test_pizzabus_env_finds_the_server_and_its_token_by_url",
    "test_the_same_calls_without_credentials_get_403",
]


@pytest.fixture(scope="module")
def lab(module_nats_server: NatsServer, module_postgres_dsn: str) -> Iterator[Server]:
    """A gateway of a cluster of one gateway and one worker process."""
    with running_cluster(module_nats_server.url, module_postgres_dsn, 1, 1) as cluster:
        yield cluster.gateways[0]
