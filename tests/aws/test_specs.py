"""The pure step: a system definition → resource specs, with no CDK involved."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from pizzabus.aws.specs import (
    GRANT_ACTIONS,
    LambdaRouteSpec,
    PutEventsRouteSpec,
    ResourceRef,
    stack_spec,
)
from pizzabus.errors import DefinitionError
from pizzabus.pizza.system import SYSTEM

SPEC = stack_spec(SYSTEM)


def test_the_stack_is_named_after_the_system() -> None:
    assert SPEC.stack_name == "pizzabus-lab"
    assert SPEC.buses == ("lab_event_bus",)


def test_no_grant_means_a_wildcard_action() -> None:
    assert not [a for actions in GRANT_ACTIONS.values() for a in actions if "*" in a]


def test_reading_a_table_with_an_index_includes_the_index_arn() -> None:
    (disconnect,) = [f for f in SPEC.functions if f.name == "websocket_disconnect"]
    read, write = disconnect.policies
    assert read.actions == ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem")
    assert read.resources == (
        ResourceRef("table", "websocket_connections"),
        ResourceRef("table_index", "websocket_connections", index="by_connection"),
    )
    assert write.resources == (ResourceRef("table", "websocket_connections"),)


def test_manage_connections_covers_posting_on_this_stage_only() -> None:
    (receive,) = [f for f in SPEC.functions if f.name == "receive_events"]
    (manage,) = [p for p in receive.policies if p.actions == ("execute-api:ManageConnections",)]
    assert manage.resources == (
        ResourceRef(
            "websocket_connections", "lab_websocket_api", path="production/POST/@connections/*"
        ),
    )


def test_a_websocket_endpoint_is_left_for_the_stack_to_resolve() -> None:
    (receive,) = [f for f in SPEC.functions if f.name == "receive_events"]
    assert receive.websocket_endpoints == {"APIGW_ENDPOINT": "lab_websocket_api"}
    assert "APIGW_ENDPOINT" not in receive.environment


def test_the_http_routes_map_to_their_integrations() -> None:
    assert SPEC.http_api is not None
    post, get = SPEC.http_api.routes
    assert post == PutEventsRouteSpec(
        "POST",
        "/",
        "lab_event_bus",
        {"Detail": "$request.body", "DetailType": "eventtype", "Source": "lab_http_api"},
    )
    assert get == LambdaRouteSpec("GET", "/orders/{order_id}", "get_order", "2.0")


def test_a_request_schema_is_reported_as_a_difference_on_aws() -> None:
    (difference,) = [d for d in SPEC.differences if d.what.endswith("request_schema")]
    assert difference.what == "lab_http_api POST /: request_schema"
    assert "do not validate request bodies" in difference.why


def test_handler_retries_beyond_lambdas_limits_are_reported_and_capped() -> None:
    retries = [d for d in SPEC.differences if d.what.endswith("retry_policy")]
    assert len(retries) == 4  # each rule keeps AWS's default policy: 185 attempts over 24 h
    assert all("at most 2 times within 6 h" in d.why for d in retries)
    target = SPEC.rules[0].targets[0]
    assert (target.maximum_retry_attempts, target.maximum_event_age_seconds) == (185, 86_400)
    assert (target.async_retry_attempts, target.async_max_event_age_seconds) == (2, 6 * 3600)


def test_patterns_are_plain_json_copies_of_the_definitions() -> None:
    (receive_rule,) = [r for r in SPEC.rules if r.name == "lab_receive_events_rule"]
    assert isinstance(receive_rule.event_pattern["$or"], list)
    receive_rule.event_pattern["$or"].clear()  # the definition is not touched
    assert stack_spec(SYSTEM).rules[3].event_pattern["$or"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timeout": timedelta(seconds=1.5)}, "whole seconds from 1 to 900"),
        ({"timeout": timedelta(minutes=16)}, "whole seconds from 1 to 900"),
        ({"memory_mb": 64}, "128 to 10240 MB"),
    ],
    ids=["fractional-timeout", "long-timeout", "small-memory"],
)
def test_a_function_lambda_cannot_run_is_refused(change: dict[str, object], message: str) -> None:
    functions = tuple(
        dataclasses.replace(f, **change) if f.name == "make_pizza" else f for f in SYSTEM.functions
    )
    with pytest.raises(DefinitionError, match=message):
        stack_spec(dataclasses.replace(SYSTEM, functions=functions))


def test_a_system_name_cloudformation_cannot_use_is_refused() -> None:
    with pytest.raises(DefinitionError, match="cannot name a CloudFormation stack"):
        stack_spec(dataclasses.replace(SYSTEM, name="pizza_bus!"))
