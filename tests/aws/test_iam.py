"""Least privilege: each function's role allows exactly the calls its handler makes, on its own
resources, and no statement anywhere uses a wildcard action."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import Synthesized, as_list, function_id, resources, role_statements, table_id

pytestmark = pytest.mark.aws

READ = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"]  # never Scan
WRITE = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
]
SEND = ["sqs:SendMessage"]
BUS_ARN = {"Fn::GetAtt": ["LabEventBus9CC2EF3F", "Arn"]}
CONNECTIONS_ARN = ("table", "websocket_connections")
BY_CONNECTION_ARN = ("index", "websocket_connections", "by_connection")
TIMELINE_ARN = ("table", "order_timeline")
MANAGE_CONNECTIONS_ARN = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":execute-api:",
            {"Ref": "AWS::Region"},
            ":",
            {"Ref": "AWS::AccountId"},
            ":",
            {"Ref": "LabWebsocketApi60E5BD99"},
            "/production/POST/@connections/*",
        ],
    ]
}


def _arn(template: dict[str, Any], ref: Any) -> Any:
    """The template's form of a table, index or dead-letter queue ARN named as a tuple."""
    if not isinstance(ref, tuple):
        return ref
    if ref[0] == "dlq":
        (rule,) = [
            p for p in resources(template, "AWS::Events::Rule").values() if p["Name"] == ref[1]
        ]
        return rule["Targets"][0]["DeadLetterConfig"]["Arn"]
    table_arn = {"Fn::GetAtt": [table_id(template, ref[1]), "Arn"]}
    if ref[0] == "table":
        return table_arn
    return {"Fn::Join": ["", [table_arn, f"/index/{ref[2]}"]]}


#: function → the statements its role holds: (actions, resources).
EXPECTED: dict[str, list[tuple[list[str], list[Any]]]] = {
    "make_pizza": [(["events:PutEvents"], [BUS_ARN]), (SEND, [("dlq", "lab_make_pizza_rule")])],
    "cook_pizza": [(["events:PutEvents"], [BUS_ARN]), (SEND, [("dlq", "lab_cook_pizza_rule")])],
    "deliver_pizza": [
        (["events:PutEvents"], [BUS_ARN]),
        (SEND, [("dlq", "lab_deliver_pizza_rule")]),
    ],
    # ... and puts the `connected` event that catches the new connection up (§2.6)
    "websocket_connect": [(WRITE, [CONNECTIONS_ARN]), (["events:PutEvents"], [BUS_ARN])],
    "websocket_disconnect": [
        (READ, [CONNECTIONS_ARN, BY_CONNECTION_ARN]),
        (WRITE, [CONNECTIONS_ARN]),
    ],
    "receive_events": [
        (READ, [CONNECTIONS_ARN, BY_CONNECTION_ARN]),
        (WRITE, [CONNECTIONS_ARN]),
        (READ, [TIMELINE_ARN]),
        (WRITE, [TIMELINE_ARN]),
        (["execute-api:ManageConnections"], [MANAGE_CONNECTIONS_ARN]),
        (SEND, [("dlq", "lab_receive_events_rule")]),  # handler failures are parked (§2.5)
    ],
    "get_order": [(READ, [TIMELINE_ARN])],
}


def _role_of(template: dict[str, Any], function: str) -> str:
    role = template["Resources"][function_id(template, function)]["Properties"]["Role"]
    return str(role["Fn::GetAtt"][0])


@pytest.mark.parametrize("function", EXPECTED)
def test_each_function_may_do_exactly_what_its_handler_does(
    synthesized: Synthesized, function: str
) -> None:
    template = synthesized.template
    statements = role_statements(template, _role_of(template, function))
    actual = [
        (as_list(s["Action"]), as_list(s["Resource"]))
        for s in statements
        if not s["Action"][0].startswith("logs:")  # logging: see the next test
        # Active tracing's own grant (the CDK adds it; X-Ray takes no resource ARNs).
        and as_list(s["Action"]) != ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    ]
    expected = [
        (actions, [_arn(template, r) for r in refs]) for actions, refs in EXPECTED[function]
    ]
    assert actual == expected
    assert all(s["Effect"] == "Allow" for s in statements)


@pytest.mark.parametrize("function", EXPECTED)
def test_each_function_role_is_assumed_by_lambda_and_logs_to_its_own_group_only(
    synthesized: Synthesized, function: str
) -> None:
    template = synthesized.template
    function_props = template["Resources"][function_id(template, function)]["Properties"]
    role = template["Resources"][_role_of(template, function)]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert "ManagedPolicyArns" not in role  # no AWSLambdaBasicExecutionRole: it allows logs:*/*
    log_group_id = function_props["LoggingConfig"]["LogGroup"]["Ref"]
    (logging,) = [
        s
        for s in role_statements(template, _role_of(template, function))
        if s["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    ]
    assert logging["Resource"] == {"Fn::GetAtt": [log_group_id, "Arn"]}


def test_no_statement_anywhere_allows_a_wildcard_action(synthesized: Synthesized) -> None:
    statements = [
        s
        for kind in ("AWS::IAM::Policy", "AWS::SQS::QueuePolicy")
        for p in resources(synthesized.template, kind).values()
        for s in p["PolicyDocument"]["Statement"]
    ]
    allowed = [a for s in statements if s["Effect"] == "Allow" for a in as_list(s["Action"])]
    assert allowed
    assert not [a for a in allowed if "*" in a]
    # The one wildcard is a Deny: the dead-letter queues refuse any request not over TLS.
    denied = [s for s in statements if s["Effect"] == "Deny"]
    assert {tuple(as_list(s["Action"])) for s in denied} == {("sqs:*",)}
    assert all(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denied)


def test_put_events_is_allowed_on_the_bus_only(synthesized: Synthesized) -> None:
    statements = [
        s
        for p in resources(synthesized.template, "AWS::IAM::Policy").values()
        for s in p["PolicyDocument"]["Statement"]
        if "events:PutEvents" in as_list(s["Action"])
    ]
    # three stages, $connect (its catch-up event) and the HTTP API's integration role
    assert len(statements) == 5
    assert all(as_list(s["Resource"]) == [BUS_ARN] for s in statements)


def test_manage_connections_is_allowed_on_this_apis_connections_only(
    synthesized: Synthesized,
) -> None:
    statements = [
        s
        for p in resources(synthesized.template, "AWS::IAM::Policy").values()
        for s in p["PolicyDocument"]["Statement"]
        if "execute-api:ManageConnections" in as_list(s["Action"])
    ]
    assert [as_list(s["Resource"]) for s in statements] == [[MANAGE_CONNECTIONS_ARN]]


def test_the_http_api_role_is_assumed_by_api_gateway_to_put_events(
    synthesized: Synthesized,
) -> None:
    (integration,) = [
        p
        for p in resources(synthesized.template, "AWS::ApiGatewayV2::Integration").values()
        if p.get("IntegrationSubtype") == "EventBridge-PutEvents"
    ]
    role_id = integration["CredentialsArn"]["Fn::GetAtt"][0]
    role = synthesized.template["Resources"][role_id]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert role_statements(synthesized.template, role_id) == [
        {
            "Action": "events:PutEvents",
            "Effect": "Allow",
            "Resource": BUS_ARN,
            "Sid": "AllowEventBridgePutEvents",
        }
    ]


@pytest.mark.parametrize("function", EXPECTED)
def test_each_function_may_send_its_traces_to_x_ray_and_nothing_more(
    synthesized: Synthesized, function: str
) -> None:
    template = synthesized.template
    statements = role_statements(template, _role_of(template, function))
    xray = [s for s in statements if any(a.startswith("xray:") for a in as_list(s["Action"]))]
    assert [(as_list(s["Action"]), as_list(s["Resource"])) for s in xray] == [
        (["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"])
    ]
