"""The handlers' boto3 path, against moto: the same files Lambda runs, with the environment the
system definition gives them and tables created from the same specs as the stack's."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest

from pizzabus.aws.specs import TableSpec, stack_spec
from pizzabus.pizza.system import SYSTEM

SPEC = stack_spec(SYSTEM)
ORDER = "6f1c2a0e-2d7b-4a53-9d1c-0b8f4a1e2c3d"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
ENDPOINT = f"https://abc123.execute-api.{REGION}.amazonaws.com/production"


def _create_table(spec: TableSpec) -> None:
    keys = [spec.partition_key] + ([spec.sort_key] if spec.sort_key else [])
    index_keys = [k for i in spec.indexes for k in (i.partition_key, i.sort_key) if k]
    attributes = {k.name: k.type for k in keys + index_keys}
    params: dict[str, Any] = {
        "TableName": spec.name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [
            {"AttributeName": k.name, "KeyType": kind}
            for k, kind in zip(keys, ("HASH", "RANGE"), strict=False)
        ],
        "AttributeDefinitions": [
            {"AttributeName": n, "AttributeType": t} for n, t in attributes.items()
        ],
    }
    if spec.indexes:
        params["GlobalSecondaryIndexes"] = [
            {
                "IndexName": i.name,
                "KeySchema": [{"AttributeName": i.partition_key.name, "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
            for i in spec.indexes
        ]
    boto3.client("dynamodb").create_table(**params)


@pytest.fixture
def tables(aws: None) -> dict[str, Any]:
    for spec in SPEC.tables:
        _create_table(spec)
    # $connect puts a `connected` event on the bus (the catch-up of §2.6).
    boto3.client("events").create_event_bus(Name="lab_event_bus")
    resource = boto3.resource("dynamodb")
    return {spec.name: resource.Table(spec.name) for spec in SPEC.tables}


def _stage_event(eventtype: str, source: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "e-1",
        "detail-type": "eventtype",
        "source": source,
        "account": ACCOUNT,
        "time": "2026-01-01T00:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {"item": {"order_id": ORDER, "eventtype": eventtype, "pizza": "margherita"}},
    }


def _websocket_event(connection_id: str, **extra: Any) -> dict[str, Any]:
    return {"requestContext": {"connectionId": connection_id, "stage": "production"}, **extra}


def _pushed(connection_id: str) -> list[dict[str, Any]]:
    """The messages moto's management API received for a connection, in order."""
    from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

    data = apigatewaymanagementapi_backends[ACCOUNT][REGION].connections[connection_id].data
    text, messages, decoder, at = data.decode(), [], json.JSONDecoder(), 0
    while at < len(text):
        message, at = decoder.raw_decode(text, at)
        messages.append(message)
    return messages


# -- the stages put the next event on the bus -------------------------------------------------


@pytest.mark.parametrize(
    ("function", "incoming", "source", "next_eventtype", "next_rule"),
    [
        ("make_pizza", "make_pizza", "lab_http_api", "cook_pizza", "lab_cook_pizza_rule"),
        ("cook_pizza", "cook_pizza", "make_pizza", "deliver_pizza", "lab_deliver_pizza_rule"),
        ("deliver_pizza", "deliver_pizza", "cook_pizza", "delivered", "lab_receive_events_rule"),
    ],
)
def test_a_stage_puts_the_next_eventtype_on_the_bus_where_the_next_rule_matches_it(
    aws: None,
    load_handler: Callable[..., ModuleType],
    function: str,
    incoming: str,
    source: str,
    next_eventtype: str,
    next_rule: str,
) -> None:
    # GIVEN the bus, and the next rule (its pattern from the definition) sending to a queue
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name="lab_event_bus")
    queue_url = sqs.create_queue(QueueName="next")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    (rule,) = [r for r in SPEC.rules if r.name == next_rule]
    events.put_rule(
        Name=rule.name, EventBusName="lab_event_bus", EventPattern=json.dumps(rule.event_pattern)
    )
    events.put_targets(
        Rule=rule.name, EventBusName="lab_event_bus", Targets=[{"Id": "q", "Arn": queue_arn}]
    )
    handler = load_handler(function)

    # WHEN the stage handles its event
    response = handler.lambda_handler(_stage_event(incoming, source), None)

    # THEN the next stage's event reaches the queue through the rule
    assert response["FailedEntryCount"] == 0
    (message,) = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    event = json.loads(message["Body"])
    assert event["source"] == function
    assert event["detail-type"] == "eventtype"
    assert event["detail"]["item"] == {
        "order_id": ORDER,
        "eventtype": next_eventtype,
        "pizza": "margherita",
    }


# -- the WebSocket routes ----------------------------------------------------------------------


def test_connect_remembers_the_connection_with_a_ttl(
    tables: dict[str, Any], load_handler: Callable[..., ModuleType]
) -> None:
    connect = load_handler("websocket_connect")

    response = connect.lambda_handler(
        _websocket_event("conn-1", queryStringParameters={"order_id": ORDER}), None
    )

    assert response["statusCode"] == 200
    item = tables["websocket_connections"].get_item(
        Key={"order_id": ORDER, "connection_id": "conn-1"}
    )["Item"]
    assert item["expires_at"] > item["connected_at"]


def test_connect_without_an_order_id_is_refused_and_writes_nothing(
    tables: dict[str, Any], load_handler: Callable[..., ModuleType]
) -> None:
    connect = load_handler("websocket_connect")

    response = connect.lambda_handler(_websocket_event("conn-1"), None)

    assert response["statusCode"] == 400
    assert tables["websocket_connections"].scan()["Items"] == []


def test_disconnect_forgets_only_that_connection(
    tables: dict[str, Any], load_handler: Callable[..., ModuleType]
) -> None:
    connect = load_handler("websocket_connect")
    for connection in ("conn-1", "conn-2"):
        connect.lambda_handler(
            _websocket_event(connection, queryStringParameters={"order_id": ORDER}), None
        )
    disconnect = load_handler("websocket_disconnect")

    assert disconnect.lambda_handler(_websocket_event("conn-1"), None) == {"statusCode": 200}

    items = tables["websocket_connections"].scan()["Items"]
    assert [i["connection_id"] for i in items] == ["conn-2"]


# -- receive_events pushes to connections -------------------------------------------------------


@pytest.fixture
def receive_events(tables: dict[str, Any], load_handler: Callable[..., ModuleType]) -> ModuleType:
    connect = load_handler("websocket_connect")
    for connection in ("conn-1", "conn-2"):
        connect.lambda_handler(
            _websocket_event(connection, queryStringParameters={"order_id": ORDER}), None
        )
    return load_handler("receive_events", APIGW_ENDPOINT=ENDPOINT)


def test_receive_events_records_the_stage_and_posts_it_to_every_connection(
    tables: dict[str, Any], receive_events: ModuleType
) -> None:
    event = _stage_event("make_pizza", "lab_http_api")

    assert receive_events.lambda_handler(event, None) == {"statusCode": 200}

    assert _pushed("conn-1") == [event["detail"]]
    assert _pushed("conn-2") == [event["detail"]]
    (stage,) = tables["order_timeline"].scan()["Items"]
    assert (stage["seq"], stage["eventtype"]) == (1, "make_pizza")


def test_receive_events_removes_a_connection_that_is_gone(
    tables: dict[str, Any], receive_events: ModuleType
) -> None:
    # GIVEN conn-1 connected a while ago (a 410 in its first seconds means "still connecting")
    connections = tables["websocket_connections"]
    key = {"order_id": ORDER, "connection_id": "conn-1"}
    old = connections.get_item(Key=key)["Item"]
    connections.put_item(Item={**old, "connected_at": old["connected_at"] - 60})

    # AND API Gateway answers 410 GoneException for it (moto keeps every connection)
    def gone(params: dict[str, Any], **_: Any) -> Any:
        if params["url_path"].endswith("/conn-1"):
            error = {"Error": {"Code": "GoneException", "Message": "gone"}}
            return _HttpStatus(410), error
        return None

    receive_events.management.meta.events.register(
        "before-call.apigatewaymanagementapi.PostToConnection", gone
    )

    # WHEN a stage event arrives
    receive_events.lambda_handler(_stage_event("make_pizza", "lab_http_api"), None)

    # THEN conn-1 is forgotten and conn-2 still got its message
    items = connections.scan()["Items"]
    assert [i["connection_id"] for i in items] == ["conn-2"]
    assert len(_pushed("conn-2")) == 1


def test_receive_events_keeps_a_connection_that_is_still_connecting(
    tables: dict[str, Any], receive_events: ModuleType
) -> None:
    # GIVEN API Gateway answers 410 for conn-1, which connected just now ($connect still running)
    def gone(params: dict[str, Any], **_: Any) -> Any:
        if params["url_path"].endswith("/conn-1"):
            return _HttpStatus(410), {"Error": {"Code": "GoneException", "Message": "gone"}}
        return None

    receive_events.management.meta.events.register(
        "before-call.apigatewaymanagementapi.PostToConnection", gone
    )

    # WHEN a stage event arrives
    receive_events.lambda_handler(_stage_event("make_pizza", "lab_http_api"), None)

    # THEN conn-1 is kept, with nothing marked sent, so its catch-up will deliver the stage
    key = {"order_id": ORDER, "connection_id": "conn-1"}
    item = tables["websocket_connections"].get_item(Key=key)["Item"]
    assert item["sent"] == 0
    assert "lease_until" not in item


def test_sync_sends_a_late_connection_what_it_missed_in_order(
    tables: dict[str, Any], receive_events: ModuleType, load_handler: Callable[..., ModuleType]
) -> None:
    stages = [
        _stage_event("make_pizza", "lab_http_api"),
        _stage_event("cook_pizza", "make_pizza"),
    ]
    for event in stages:
        receive_events.lambda_handler(event, None)
    load_handler("websocket_connect").lambda_handler(
        _websocket_event("late", queryStringParameters={"order_id": ORDER}), None
    )
    receive = load_handler("receive_events", APIGW_ENDPOINT=ENDPOINT)

    response = receive.lambda_handler(_websocket_event("late", body='{"action":"sync"}'), None)

    assert response == {"statusCode": 200}
    assert _pushed("late") == [e["detail"] for e in stages]


def test_connect_puts_a_connected_event_that_the_receive_rule_routes(
    tables: dict[str, Any], load_handler: Callable[..., ModuleType]
) -> None:
    # GIVEN the receive rule (its pattern from the definition) sending to a queue
    events, sqs = boto3.client("events"), boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="receive")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    (rule,) = [r for r in SPEC.rules if r.name == "lab_receive_events_rule"]
    events.put_rule(
        Name=rule.name, EventBusName="lab_event_bus", EventPattern=json.dumps(rule.event_pattern)
    )
    events.put_targets(
        Rule=rule.name, EventBusName="lab_event_bus", Targets=[{"Id": "q", "Arn": queue_arn}]
    )

    # WHEN a socket connects
    load_handler("websocket_connect").lambda_handler(
        _websocket_event("late", queryStringParameters={"order_id": ORDER}), None
    )

    # THEN its catch-up request reaches receive_events' rule
    (message,) = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    event = json.loads(message["Body"])
    assert event["source"] == "websocket_connect"
    assert event["detail"] == {
        "item": {"order_id": ORDER, "eventtype": "connected"},
        "connection_id": "late",
    }


def _connected_event(connection_id: str) -> dict[str, Any]:
    event = _stage_event("connected", "websocket_connect")
    event["detail"] = {
        "item": {"order_id": ORDER, "eventtype": "connected"},
        "connection_id": connection_id,
    }
    return event


def test_a_late_connection_catches_up_without_sending_anything(
    tables: dict[str, Any], receive_events: ModuleType, load_handler: Callable[..., ModuleType]
) -> None:
    # GIVEN two stages already done, and a connection that opens now and sends nothing
    stages = [
        _stage_event("make_pizza", "lab_http_api"),
        _stage_event("cook_pizza", "make_pizza"),
    ]
    for event in stages:
        receive_events.lambda_handler(event, None)
    load_handler("websocket_connect").lambda_handler(
        _websocket_event("late", queryStringParameters={"order_id": ORDER}), None
    )
    receive = load_handler("receive_events", APIGW_ENDPOINT=ENDPOINT)

    # WHEN its `connected` event arrives (twice: the bus delivers at least once)
    for _ in range(2):
        assert receive.lambda_handler(_connected_event("late"), None) == {"statusCode": 200}

    # THEN it got the stages once, in order
    assert _pushed("late") == [e["detail"] for e in stages]


def test_a_connected_event_fails_until_the_socket_is_open_so_the_bus_retries(
    tables: dict[str, Any], receive_events: ModuleType, load_handler: Callable[..., ModuleType]
) -> None:
    # GIVEN a stage done, and a connection still in its $connect (API Gateway answers 410)
    stage = _stage_event("make_pizza", "lab_http_api")
    receive_events.lambda_handler(stage, None)
    load_handler("websocket_connect").lambda_handler(
        _websocket_event("late", queryStringParameters={"order_id": ORDER}), None
    )
    receive = load_handler("receive_events", APIGW_ENDPOINT=ENDPOINT)
    opening = True

    def gone(params: dict[str, Any], **_: Any) -> Any:
        if opening and params["url_path"].endswith("/late"):
            return _HttpStatus(410), {"Error": {"Code": "GoneException", "Message": "gone"}}
        return None

    receive.management.meta.events.register(
        "before-call.apigatewaymanagementapi.PostToConnection", gone
    )

    # WHEN its `connected` event arrives while it opens, THEN the delivery fails
    with pytest.raises(Exception, match="has 0 of the 1 stages"):
        receive.lambda_handler(_connected_event("late"), None)

    # AND once the socket is open, the retry catches it up
    opening = False
    assert receive.lambda_handler(_connected_event("late"), None) == {"statusCode": 200}
    assert _pushed("late") == [stage["detail"]]


def test_get_order_answers_the_timeline(
    tables: dict[str, Any], receive_events: ModuleType, load_handler: Callable[..., ModuleType]
) -> None:
    receive_events.lambda_handler(_stage_event("make_pizza", "lab_http_api"), None)
    get_order = load_handler("get_order")

    found = get_order.lambda_handler({"pathParameters": {"order_id": ORDER}}, None)
    missing = get_order.lambda_handler({"pathParameters": {"order_id": "nope"}}, None)

    assert found["statusCode"] == 200
    assert [e["item"]["eventtype"] for e in json.loads(found["body"])["events"]] == ["make_pizza"]
    assert missing["statusCode"] == 404


class _HttpStatus:
    """The part of an HTTP response botocore reads when a before-call hook answers."""

    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}
