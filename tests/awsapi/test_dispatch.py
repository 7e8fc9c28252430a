"""One endpoint for every AWS service, routed by the request; the HTTP API's own routes, the
admin API and ``@connections`` are untouched; nothing unsigned or wrongly signed gets through."""

from __future__ import annotations

import json
import uuid

import botocore.exceptions
import httpx
import pytest

from pizzabus.awsapi import AwsApis
from pizzabus.clock import SystemClock
from tests.awsapi.conftest import Clients
from tests.awsapi.local_server import LocalServer

pytestmark = pytest.mark.e2e

CALLS = {
    "dynamodb": ("list_tables", {}),
    "events": ("list_rules", {"EventBusName": "lab_event_bus"}),
    "lambda": ("list_functions", {}),
    "sqs": ("list_queues", {}),
}


def _scope(path: str = "/", headers: dict[str, str] | None = None) -> dict[str, object]:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }


@pytest.mark.parametrize(
    ("path", "headers", "service"),
    [
        ("/", {"X-Amz-Target": "DynamoDB_20120810.GetItem"}, "dynamodb"),
        ("/", {"X-Amz-Target": "AWSEvents.PutEvents"}, "events"),
        ("/", {"X-Amz-Target": "AmazonSQS.ReceiveMessage"}, "sqs"),
        ("/", {"X-Amz-Target": "Logs_20140328.PutLogEvents"}, "unknown"),
        ("/2015-03-31/functions/f/invocations", {}, "lambda"),
        (
            "/",
            {
                "Authorization": "AWS4-HMAC-SHA256 Credential=pizzabus/20260101/us-east-1/sqs/"
                "aws4_request, SignedHeaders=host, Signature=00"
            },
            "sqs",
        ),
        (
            "/production/@connections/abc",
            {
                "Authorization": "AWS4-HMAC-SHA256 Credential=pizzabus/20260101/us-east-1/"
                "execute-api/aws4_request, SignedHeaders=host, Signature=00"
            },
            None,
        ),
        ("/", {"Content-Type": "application/json"}, None),
        ("/orders/abc", {}, None),
    ],
    ids=[
        "dynamodb-target",
        "events-target",
        "sqs-target",
        "other-service-target",
        "lambda-path",
        "sqs-signature-scope",
        "connections-not-ours",
        "http-api",
        "route",
    ],
)
def test_a_request_goes_to_the_service_it_names(
    path: str, headers: dict[str, str], service: str | None
) -> None:
    apis = AwsApis({}, secret="s", clock=SystemClock())
    assert apis.service_of(_scope(path, headers)) == service


def test_the_http_apis_own_post_still_reaches_the_http_api(aws_server: LocalServer) -> None:
    order = {"item": {"order_id": str(uuid.uuid4()), "eventtype": "make_pizza", "pizza": "x"}}
    response = httpx.post(f"{aws_server.url}/", json=order, timeout=10)
    assert response.status_code == 200
    assert response.json()["FailedEntryCount"] == 0
    assert httpx.post(f"{aws_server.url}/", json={}, timeout=10).status_code == 400


@pytest.mark.parametrize("service", sorted(CALLS))
def test_an_unsigned_call_gets_403_in_the_services_shape(client: Clients, service: str) -> None:
    operation, params = CALLS[service]
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        getattr(client(service, unsigned=True), operation)(**params)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert refused.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"


@pytest.mark.parametrize("service", sorted(CALLS))
def test_a_call_signed_with_another_secret_gets_403(client: Clients, service: str) -> None:
    operation, params = CALLS[service]
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        getattr(client(service, secret="not-the-token"), operation)(**params)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert "signature we calculated does not match" in refused.value.response["Error"]["Message"]


def test_a_service_pizzabus_does_not_serve_answers_unknown_operation(client: Clients) -> None:
    logs = client("logs")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        logs.describe_log_groups()
    assert refused.value.response["Error"]["Code"] == "UnknownOperationException"
    assert "dynamodb, events, lambda, sqs" in refused.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("service", "operation"),
    [("dynamodb", "create_table"), ("events", "put_rule"), ("sqs", "send_message")],
)
def test_an_operation_not_implemented_answers_unknown_operation(
    client: Clients, service: str, operation: str
) -> None:
    params = {
        "create_table": {
            "TableName": "t",
            "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
        "put_rule": {"Name": "r", "EventPattern": "{}"},
        "send_message": {"QueueUrl": "http://x/000000000000/q", "MessageBody": "b"},
    }[operation]
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        getattr(client(service), operation)(**params)
    assert refused.value.response["Error"]["Code"] == "UnknownOperationException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize(
    ("target", "body"),
    [
        ("DynamoDB_20120810.GetItem", b"{not json"),
        ("AWSEvents.ListRules", b"[1, 2]"),
        ("AmazonSQS.ListQueues", b"\xff\xfe"),
    ],
)
def test_a_malformed_body_gets_serialization_exception_never_a_500(
    aws_server: LocalServer, client: Clients, target: str, body: bytes
) -> None:
    # Signed as botocore signs, with the malformed body: the signature is right, the body not.
    service = {"DynamoDB_20120810": "dynamodb", "AWSEvents": "events", "AmazonSQS": "sqs"}[
        target.partition(".")[0]
    ]
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="POST",
        url=f"{aws_server.url}/",
        data=body,
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"},
    )
    SigV4Auth(Credentials("pizzabus", aws_server.admin_token), service, "us-east-1").add_auth(
        request
    )
    response = httpx.post(
        f"{aws_server.url}/", content=body, headers=dict(request.headers.items()), timeout=10
    )
    assert response.status_code == 400
    assert json.loads(response.content)["__type"].endswith("#SerializationException")
