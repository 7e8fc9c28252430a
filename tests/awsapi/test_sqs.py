"""The dead-letter queues answer as SQS: the same dead letters ``pizzabus dlq`` shows."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from tests.awsapi.conftest import REGION, Clients
from tests.awsapi.local_server import LocalServer

pytestmark = pytest.mark.e2e

QUEUE = "noisy_rule-noisy-dlq"


def _fail_one_order(client: Clients) -> str:
    order_id = str(uuid.uuid4())
    detail = {"item": {"order_id": order_id, "eventtype": "make_pizza", "pizza": "raise"}}
    client("events").put_events(
        Entries=[
            {
                "Source": "lab_http_api",
                "DetailType": "make_pizza",
                "EventBusName": "lab_event_bus",
                "Detail": json.dumps(detail),
            }
        ]
    )
    return order_id


def _dead_letter_ids(server: LocalServer) -> list[str]:
    """What ``pizzabus dlq list`` shows (the admin API it reads)."""
    answer = httpx.get(f"{server.url}/_pizzabus/dlq", headers=server.admin_headers, timeout=5)
    return [letter["id"] for letter in answer.json()["DeadLetters"]]


def test_a_dead_letter_is_received_and_deleted_as_an_sqs_message(
    client: Clients, aws_server: LocalServer
) -> None:
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    assert url == f"{aws_server.url}/000000000000/{QUEUE}"
    assert url in sqs.list_queues()["QueueUrls"]
    assert sqs.list_queues(QueueNamePrefix="noisy")["QueueUrls"] == [url]
    order_id = _fail_one_order(client)

    deadline = time.monotonic() + 15
    messages: list[dict[str, str]] = []
    while not messages:
        assert time.monotonic() < deadline, "no dead letter arrived"
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        messages = [m for m in received.get("Messages", []) if order_id in m["Body"]]
        time.sleep(0.05)
    (message,) = messages
    assert json.loads(message["Body"])["detail"]["item"]["order_id"] == order_id

    # Received, it is hidden for its visibility timeout, and still a dead letter.
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert int(attributes["ApproximateNumberOfMessagesNotVisible"]) >= 1
    assert attributes["QueueArn"] == f"arn:aws:sqs:{REGION}:000000000000:{QUEUE}"
    assert message["MessageId"] in _dead_letter_ids(aws_server)

    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert message["MessageId"] not in _dead_letter_ids(aws_server)
    again = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages", [])
    assert message["MessageId"] not in [m["MessageId"] for m in again]


def test_queue_errors_are_the_modeled_exceptions(client: Clients, aws_server: LocalServer) -> None:
    sqs = client("sqs")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="missing")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.receive_message(QueueUrl=f"{aws_server.url}/000000000000/missing")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    with pytest.raises(sqs.exceptions.ClientError) as refused:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    empty = sqs.get_queue_attributes(
        QueueUrl=sqs.get_queue_url(QueueName="lab_cook_pizza_rule-cook_pizza-dlq")["QueueUrl"],
        AttributeNames=["ApproximateNumberOfMessages"],
    )
    assert empty["Attributes"] == {"ApproximateNumberOfMessages": "0"}
