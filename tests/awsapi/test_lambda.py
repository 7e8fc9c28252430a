"""Lambda's own API: Invoke in its three invocation types, handler errors, the log tail, and
the function listings."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from pizzabus.functions import logs
from tests.awsapi.conftest import REGION, Clients

pytestmark = pytest.mark.e2e


def _attribute_output() -> None:
    """pytest swaps ``sys.stdout`` around each test phase; the runtime attributes (and
    collects) what handlers print by wrapping the stream it finds, as ``pizzabus serve`` does
    once at start: wrap the test's own."""
    logs.install()


def _payload(answer: dict[str, Any]) -> Any:
    return json.loads(answer["Payload"].read())


def test_invoke_answers_the_handlers_result(client: Clients) -> None:
    answer = client("lambda").invoke(FunctionName="noisy", Payload=json.dumps({"a": 1}))
    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer
    assert answer["ExecutedVersion"] == "$LATEST"
    assert _payload(answer) == {"echo": {"a": 1}}


def test_get_order_answers_an_orders_timeline(client: Clients) -> None:
    order_id = str(uuid.uuid4())
    client("dynamodb").put_item(
        TableName="order_timeline",
        Item={
            "order_id": {"S": order_id},
            "seq": {"N": "1"},
            "eventtype": {"S": "make_pizza"},
            "detail": {"S": json.dumps({"item": {"order_id": order_id}})},
        },
    )
    event = {"pathParameters": {"order_id": order_id}}
    answer = client("lambda").invoke(FunctionName="get_order", Payload=json.dumps(event))
    result = _payload(answer)
    assert result["statusCode"] == 200
    assert json.loads(result["body"]) == {
        "order_id": order_id,
        "events": [{"item": {"order_id": order_id}}],
    }


def test_a_handler_error_comes_back_as_lambda_answers_it(client: Clients) -> None:
    _attribute_output()
    answer = client("lambda").invoke(
        FunctionName="noisy", Payload=json.dumps({"fail": True}), LogType="Tail"
    )
    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    error = _payload(answer)
    assert error["errorType"] == "RuntimeError"
    assert error["errorMessage"] == "noisy: failed on purpose"
    log = base64.b64decode(answer["LogResult"]).decode()
    assert "noisy got ['fail']" in log
    assert "[ERROR] RuntimeError: noisy: failed on purpose" in log


def test_the_log_tail_is_the_last_4_kb_of_the_invocations_log(client: Clients) -> None:
    _attribute_output()
    answer = client("lambda").invoke(
        FunctionName="noisy", Payload=json.dumps({"big": 100}), LogType="Tail"
    )
    log = base64.b64decode(answer["LogResult"])
    assert len(log) == 4096
    text = log.decode()
    assert "line 00099" in text
    assert "line 00000" not in text
    assert text.rstrip().splitlines()[-1].startswith("REPORT RequestId: ")


def test_event_and_dry_run_invocations(client: Clients) -> None:
    functions = client("lambda")
    queued = functions.invoke(
        FunctionName="noisy", InvocationType="Event", Payload=json.dumps({"b": 2})
    )
    assert queued["StatusCode"] == 202
    checked = functions.invoke(FunctionName="noisy", InvocationType="DryRun")
    assert checked["StatusCode"] == 204


def test_an_unknown_function_raises_resource_not_found(client: Clients) -> None:
    functions = client("lambda")
    with pytest.raises(functions.exceptions.ResourceNotFoundException) as refused:
        functions.invoke(FunctionName="missing", Payload=b"{}")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(functions.exceptions.ResourceNotFoundException):
        functions.get_function(FunctionName="noisy:7")


def test_a_payload_that_is_not_json_is_refused(client: Clients) -> None:
    functions = client("lambda")
    with pytest.raises(functions.exceptions.InvalidRequestContentException):
        functions.invoke(FunctionName="noisy", Payload=b"{not json")


def test_functions_are_listed_and_described(client: Clients) -> None:
    functions = client("lambda")
    names = [f["FunctionName"] for f in functions.list_functions()["Functions"]]
    assert "get_order" in names
    assert "noisy" in names
    config = functions.get_function_configuration(FunctionName="noisy")
    assert config["Handler"] == "noisy.lambda_handler"
    assert config["Runtime"] == "python3.12"
    assert config["Timeout"] == 5
    assert config["Description"] == "logs, and fails on request"
    arn = f"arn:aws:lambda:{REGION}:000000000000:function:noisy"
    assert config["FunctionArn"] == arn
    assert functions.get_function(FunctionName=arn)["Configuration"]["FunctionName"] == "noisy"
    paginated = functions.get_paginator("list_functions").paginate()
    assert sum(len(page["Functions"]) for page in paginated) == len(names)
