"""The synthesized stack holds every item of the lab, by name and value, with the departures
of DESIGN §2 — read from the CloudFormation template, as AWS would receive it."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import Synthesized, function_id, resources, table_id

pytestmark = pytest.mark.aws

BUS = {"Fn::GetAtt": ["LabEventBus9CC2EF3F", "Arn"]}


def _stage(eventtype: str, source: str) -> dict[str, Any]:
    return {"source": [source], "detail": {"item": {"eventtype": [eventtype]}}}


RULES = {
    "lab_make_pizza_rule": ("make_pizza", _stage("make_pizza", "lab_http_api")),
    "lab_cook_pizza_rule": ("cook_pizza", _stage("cook_pizza", "make_pizza")),
    "lab_deliver_pizza_rule": ("deliver_pizza", _stage("deliver_pizza", "cook_pizza")),
    "lab_receive_events_rule": (
        "receive_events",
        {
            "$or": [  # every stage, `delivered` included (§2.1), each only from its source (§2.7)
                _stage("make_pizza", "lab_http_api"),
                _stage("cook_pizza", "make_pizza"),
                _stage("deliver_pizza", "cook_pizza"),
                _stage("delivered", "deliver_pizza"),
                _stage("connected", "websocket_connect"),  # a new connection's catch-up (§2.6)
            ]
        },
    ),
}

WEBSOCKET_ENDPOINT = {
    "Fn::Join": [
        "",
        [
            "https://",
            {"Ref": "LabWebsocketApi60E5BD99"},
            ".execute-api.",
            {"Ref": "AWS::Region"},
            ".",
            {"Ref": "AWS::URLSuffix"},
            "/production",
        ],
    ]
}

ENVIRONMENTS = {
    "make_pizza": {"EVENT_BUS": "lab_event_bus"},
    "cook_pizza": {"EVENT_BUS": "lab_event_bus"},
    "deliver_pizza": {"EVENT_BUS": "lab_event_bus"},
    "websocket_connect": {"TABLENAME": "websocket_connections"},
    "websocket_disconnect": {"TABLENAME": "websocket_connections"},
    "receive_events": {
        "TABLENAME": "websocket_connections",  # §2.2: not `receive_events`
        "TIMELINE_TABLE": "order_timeline",
        "APIGW_ENDPOINT": WEBSOCKET_ENDPOINT,  # the lab's "copy the Connection URL" step
    },
    "get_order": {"TIMELINE_TABLE": "order_timeline"},
}


def test_the_event_bus_is_named_as_in_the_lab(template: Any) -> None:
    template.resource_count_is("AWS::Events::EventBus", 1)
    template.has_resource_properties("AWS::Events::EventBus", {"Name": "lab_event_bus"})


def _rule(synthesized: Synthesized, name: str) -> dict[str, Any]:
    (rule,) = [
        p
        for p in resources(synthesized.template, "AWS::Events::Rule").values()
        if p["Name"] == name
    ]
    return rule


@pytest.mark.parametrize("rule_name", RULES)
def test_each_rule_has_its_pattern_on_the_bus(template: Any, rule_name: str) -> None:
    _, pattern = RULES[rule_name]
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "Name": rule_name,
            "EventBusName": {"Ref": "LabEventBus9CC2EF3F"},
            "EventPattern": pattern,
            "State": "ENABLED",
        },
    )


@pytest.mark.parametrize("rule_name", RULES)
def test_each_rule_targets_its_function_with_a_retry_policy_and_a_dead_letter_queue(
    synthesized: Synthesized, rule_name: str
) -> None:
    function, _ = RULES[rule_name]
    (target,) = _rule(synthesized, rule_name)["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id(synthesized.template, function), "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    queue_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    queue = synthesized.template["Resources"][queue_id]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


@pytest.mark.parametrize("rule_name", RULES)
def test_what_a_target_handler_raises_is_retried_by_lambda_then_parked_in_the_same_queue(
    synthesized: Synthesized, rule_name: str
) -> None:
    function, _ = RULES[rule_name]
    (target,) = _rule(synthesized, rule_name)["Targets"]
    function_logical_id = function_id(synthesized.template, function)
    props = synthesized.template["Resources"][function_logical_id]["Properties"]
    assert props["DeadLetterConfig"] == {"TargetArn": target["DeadLetterConfig"]["Arn"]}
    (invoke_config,) = [
        p
        for p in resources(synthesized.template, "AWS::Lambda::EventInvokeConfig").values()
        if p["FunctionName"] == {"Ref": function_logical_id}
    ]
    assert invoke_config["MaximumRetryAttempts"] == 2  # Lambda's limit (§2.5 on AWS)
    assert invoke_config["MaximumEventAgeInSeconds"] == 6 * 3600


@pytest.mark.parametrize("rule_name", RULES)
def test_only_its_rule_may_send_to_a_dead_letter_queue(
    synthesized: Synthesized, rule_name: str
) -> None:
    (target,) = _rule(synthesized, rule_name)["Targets"]
    queue_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    rule_id = next(
        lid
        for lid, p in resources(synthesized.template, "AWS::Events::Rule").items()
        if p["Name"] == rule_name
    )
    (policy,) = [
        p
        for p in resources(synthesized.template, "AWS::SQS::QueuePolicy").values()
        if p["Queues"] == [{"Ref": queue_id}]
    ]
    allow = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow == [
        {
            "Action": "sqs:SendMessage",
            "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}},
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
        }
    ]


@pytest.mark.parametrize("rule_name", RULES)
def test_each_rule_may_invoke_its_target(synthesized: Synthesized, rule_name: str) -> None:
    function, _ = RULES[rule_name]
    rule_id = next(
        lid
        for lid, p in resources(synthesized.template, "AWS::Events::Rule").items()
        if p["Name"] == rule_name
    )
    permissions = resources(synthesized.template, "AWS::Lambda::Permission").values()
    assert {
        "Action": "lambda:InvokeFunction",
        "FunctionName": {"Fn::GetAtt": [function_id(synthesized.template, function), "Arn"]},
        "Principal": "events.amazonaws.com",
        "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
    } in list(permissions)


@pytest.mark.parametrize("function", ENVIRONMENTS)
def test_each_function_runs_its_handler_on_python_3_12_with_the_labs_environment(
    template: Any, function: str
) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": function,
            "Runtime": "python3.12",
            "Handler": f"{function}.lambda_handler",
            "Environment": {"Variables": ENVIRONMENTS[function]},
        },
    )


def test_there_are_the_seven_functions_of_the_definition(template: Any) -> None:
    template.resource_count_is("AWS::Lambda::Function", len(ENVIRONMENTS))


def test_timeouts_come_from_the_definition(template: Any) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function", {"FunctionName": "receive_events", "Timeout": 10}
    )
    template.has_resource_properties(
        "AWS::Lambda::Function", {"FunctionName": "make_pizza", "Timeout": 3, "MemorySize": 128}
    )


def test_the_code_asset_is_the_handler_folder_with_its_shared_modules(
    synthesized: Synthesized,
) -> None:
    functions = resources(synthesized.template, "AWS::Lambda::Function").values()
    (asset_key,) = {f["Code"]["S3Key"] for f in functions}  # one asset, shared by all seven
    asset = synthesized.outdir / f"asset.{asset_key.removesuffix('.zip')}"
    shipped = {p.name for p in asset.iterdir()}
    assert {"pipeline.py", "orders.py", "make_pizza.py", "receive_events.py"} <= shipped
    assert "__pycache__" not in shipped


@pytest.mark.parametrize(
    ("table", "keys", "attributes"),
    [
        (
            "websocket_connections",
            [
                {"AttributeName": "order_id", "KeyType": "HASH"},
                {"AttributeName": "connection_id", "KeyType": "RANGE"},
            ],
            [
                {"AttributeName": "order_id", "AttributeType": "S"},
                {"AttributeName": "connection_id", "AttributeType": "S"},
            ],
        ),
        (
            "order_timeline",
            [
                {"AttributeName": "order_id", "KeyType": "HASH"},
                {"AttributeName": "seq", "KeyType": "RANGE"},
            ],
            [
                {"AttributeName": "order_id", "AttributeType": "S"},
                {"AttributeName": "seq", "AttributeType": "N"},
            ],
        ),
    ],
    ids=["connections", "timeline"],
)
def test_tables_are_on_demand_with_their_keys_and_a_ttl(
    template: Any, table: str, keys: list[Any], attributes: list[Any]
) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": table,
            "KeySchema": keys,
            "AttributeDefinitions": attributes,
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        },
    )


def test_connections_can_be_found_by_connection_id(template: Any) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": "websocket_connections",
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "by_connection",
                    "KeySchema": [{"AttributeName": "connection_id", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        },
    )


def test_the_http_api_has_the_labs_name_and_cors(template: Any) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Api",
        {
            "Name": "lab_http_api",
            "ProtocolType": "HTTP",
            "CorsConfiguration": {
                "AllowOrigins": ["*"],
                "AllowMethods": ["POST"],
                "AllowHeaders": ["*"],
            },
        },
    )


def test_post_root_puts_the_body_on_the_bus(synthesized: Synthesized, template: Any) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Integration",
        {
            "IntegrationType": "AWS_PROXY",
            "IntegrationSubtype": "EventBridge-PutEvents",
            "PayloadFormatVersion": "1.0",
            "RequestParameters": {
                "Detail": "$request.body",
                "DetailType": "eventtype",
                "Source": "lab_http_api",
                "EventBusName": BUS,
            },
        },
    )
    (integration_id,) = [
        lid
        for lid, p in resources(synthesized.template, "AWS::ApiGatewayV2::Integration").items()
        if p.get("IntegrationSubtype") == "EventBridge-PutEvents"
    ]
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Route",
        {
            "RouteKey": "POST /",
            "Target": {"Fn::Join": ["", ["integrations/", {"Ref": integration_id}]]},
        },
    )


def test_get_order_is_a_lambda_proxy_route_with_payload_2(
    synthesized: Synthesized, template: Any
) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Integration",
        {
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": {
                "Fn::GetAtt": [function_id(synthesized.template, "get_order"), "Arn"]
            },
            "PayloadFormatVersion": "2.0",
        },
    )
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Route", {"RouteKey": "GET /orders/{order_id}"}
    )


def test_the_websocket_api_routes_by_action(template: Any) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Api",
        {
            "Name": "lab_websocket_api",
            "ProtocolType": "WEBSOCKET",
            "RouteSelectionExpression": "$request.body.action",
        },
    )
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "ApiId": {"Ref": "LabWebsocketApi60E5BD99"},
            "StageName": "production",
            "AutoDeploy": True,
        },
    )


@pytest.mark.parametrize(
    ("route_key", "function"),
    [
        ("$connect", "websocket_connect"),
        ("$disconnect", "websocket_disconnect"),
        ("sync", "receive_events"),
    ],
)
def test_each_websocket_route_invokes_its_function(
    synthesized: Synthesized, route_key: str, function: str
) -> None:
    (route,) = [
        p
        for p in resources(synthesized.template, "AWS::ApiGatewayV2::Route").values()
        if p["RouteKey"] == route_key
    ]
    assert route["ApiId"] == {"Ref": "LabWebsocketApi60E5BD99"}
    integration_id = route["Target"]["Fn::Join"][1][1]["Ref"]
    integration = synthesized.template["Resources"][integration_id]["Properties"]
    assert integration["IntegrationType"] == "AWS_PROXY"
    uri_parts = integration["IntegrationUri"]["Fn::Join"][1]
    assert {"Fn::GetAtt": [function_id(synthesized.template, function), "Arn"]} in uri_parts


def test_the_outputs_give_both_urls_and_a_ready_client_url(synthesized: Synthesized) -> None:
    outputs = synthesized.template["Outputs"]
    assert set(outputs) == {"HttpApiUrl", "WebSocketUrl", "WebClientUrl"}
    assert outputs["WebSocketUrl"]["Value"]["Fn::Join"][1][0] == "wss://"
    client = outputs["WebClientUrl"]["Value"]["Fn::Join"][1]
    assert client[0] == "http://127.0.0.1:8000/?api="
    assert client[2] == "&ws=wss://"


def test_tables_queues_and_logs_go_away_with_the_stack(synthesized: Synthesized) -> None:
    for kind in ("AWS::DynamoDB::Table", "AWS::Logs::LogGroup", "AWS::SQS::Queue"):
        for logical_id, resource in synthesized.template["Resources"].items():
            if resource["Type"] == kind:
                assert resource.get("DeletionPolicy") == "Delete", logical_id


def test_the_table_ids_are_stable(synthesized: Synthesized) -> None:
    # Renaming a construct id replaces the table (and loses its items) on the next deploy.
    assert table_id(synthesized.template, "websocket_connections").startswith(
        "WebsocketConnections"
    )
    assert table_id(synthesized.template, "order_timeline").startswith("OrderTimeline")


@pytest.mark.parametrize("function", ENVIRONMENTS)
def test_each_function_is_traced_by_x_ray_as_journeys_are_locally(
    template: Any, function: str
) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"FunctionName": function, "TracingConfig": {"Mode": "Active"}},
    )
