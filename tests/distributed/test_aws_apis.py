"""AWS's own APIs on a cluster: the embedded suites of ``tests/awsapi`` (real boto3) run
unchanged against a gateway of two gateways and a worker on a private nats-server and a fresh
PostgreSQL database; then what only a cluster can show: a receive hides a dead letter from every
gateway, and a replay started through one gateway is followed through another (its cancel from
another gateway is proven in ``test_replay.py``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest
from _pytest.fixtures import FixtureFunctionDefinition
from click.testing import CliRunner

import tests.awsapi.test_dispatch as dispatch_suite
import tests.awsapi.test_dynamodb as dynamodb_suite
import tests.awsapi.test_events as events_suite
import tests.awsapi.test_lambda as lambda_suite
import tests.awsapi.test_sqs as sqs_suite
from pizzabus.cli.main import cli
from pizzabus.devservers.nats import NatsServer
from tests.awsapi.conftest import Clients, boto3_clients
from tests.distributed.cluster import Cluster, running_cluster, wait_until
from tests.e2e.server import Server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

SUITES: tuple[ModuleType, ...] = (
    dispatch_suite,
    dynamodb_suite,
    events_suite,
    lambda_suite,
    sqs_suite,
)

# The same test functions (and the suites' own fixtures), collected here with this module's
# fixtures: ``aws_server`` is a gateway of the cluster.
for _suite in SUITES:
    for _name, _part in vars(_suite).items():
        if _name.startswith("test_") or isinstance(_part, FixtureFunctionDefinition):
            globals().setdefault(_name, _part)


@pytest.fixture(scope="module")
def cluster(module_nats_server: NatsServer, module_postgres_dsn: str) -> Iterator[Cluster]:
    with running_cluster(
        module_nats_server.url,
        module_postgres_dsn,
        2,
        1,
        *("--system", "tests.awsapi.system:SYSTEM"),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def aws_server(cluster: Cluster) -> Server:
    return cluster.gateways[0]


@pytest.fixture(scope="module")
def client(aws_server: Server) -> Iterator[Clients]:
    yield from boto3_clients(aws_server.url, aws_server.admin_token)


@pytest.fixture(scope="module")
def other(cluster: Cluster) -> Iterator[Clients]:
    """Clients of the cluster's other gateway."""
    gateway = cluster.gateways[1]
    yield from boto3_clients(gateway.url, gateway.admin_token)


def test_a_receive_on_one_gateway_hides_the_dead_letter_from_the_other(
    client: Clients, other: Clients
) -> None:
    order_id = sqs_suite._fail_one_order(client)
    sqs_a, sqs_b = client("sqs"), other("sqs")
    url = sqs_a.get_queue_url(QueueName=sqs_suite.QUEUE)["QueueUrl"]

    def received() -> list[dict[str, Any]]:
        answer = sqs_a.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600)
        return [m for m in answer.get("Messages", []) if order_id in m["Body"]]

    (message,) = wait_until(received, "the dead letter of the failed order")
    on_b = sqs_b.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    assert message["MessageId"] not in [m["MessageId"] for m in on_b.get("Messages", [])]
    attributes = sqs_b.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert int(attributes["ApproximateNumberOfMessagesNotVisible"]) >= 1

    sqs_b.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    with pytest.raises(sqs_a.exceptions.ReceiptHandleIsInvalid):
        sqs_a.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_a_replay_started_through_one_gateway_is_followed_through_the_other(
    client: Clients, other: Clients, cluster: Cluster
) -> None:
    events_a, events_b = client("events"), other("events")
    start = time.time()
    order_id = str(uuid.uuid4())
    detail = {"item": {"order_id": order_id, "eventtype": "nothing_routes_this"}}
    put = events_a.put_events(
        Entries=[
            {
                "Source": "lab_http_api",
                "DetailType": "eventtype",
                "EventBusName": "lab_event_bus",
                "Detail": json.dumps(detail),
            }
        ]
    )
    assert put["FailedEntryCount"] == 0
    end = time.time() + 0.5
    archive = events_a.describe_archive(ArchiveName="lab_event_bus_archive")
    name = f"r-{order_id[:8]}"
    time.sleep(max(0.0, end - time.time()))  # the window's end may not be in the future
    events_a.start_replay(
        ReplayName=name,
        EventSourceArn=archive["ArchiveArn"],
        EventStartTime=start,
        EventEndTime=end,
        Destination={"Arn": archive["EventSourceArn"]},
    )

    def finished() -> dict[str, Any] | None:
        described: dict[str, Any] = events_b.describe_replay(ReplayName=name)
        return described if described["State"] in ("COMPLETED", "FAILED") else None

    assert wait_until(finished, f"replay {name}")["State"] == "COMPLETED"
    assert name in [r["ReplayName"] for r in events_b.list_replays()["Replays"]]
    with pytest.raises(events_b.exceptions.IllegalStatusException):
        events_b.cancel_replay(ReplayName=name)
    b = cluster.gateways[1]
    progress = httpx.get(f"{b.url}/_pizzabus/replays/{name}", headers=b.admin_headers).json()
    assert progress["EventsReplayed"] == progress["EventsTotal"] >= 1  # the put event, at least
    listed = CliRunner().invoke(cli, ["replay", "list", "--url", b.url])
    assert listed.exit_code == 0, listed.output
    assert name in listed.output


def test_serve_with_nats_announces_the_aws_apis(aws_server: Server) -> None:
    assert any(line.lstrip().startswith("AWS APIs") for line in aws_server.output)
