"""Local IAM equals deployed IAM: every operation the local SDK serves, under every grant, gets
the verdict the synthesized IAM policy gives it on AWS."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pizzabus.aws.specs import ResourceRef, stack_spec
from pizzabus.functions.runtime import RuntimeIdentity
from pizzabus.sdk.boto3_shim import Session
from pizzabus.system import (
    EventBus,
    Function,
    GlobalIndex,
    Grant,
    KeyAttribute,
    SystemDefinition,
    Table,
    WebSocketApi,
)
from pizzabus.system.iam import GRANT_ACTIONS
from pizzabus.tables import MemoryTableStore
from pizzabus.telemetry import NO_TELEMETRY

TABLE = Table(
    "things", KeyAttribute("pk"), KeyAttribute("sk"), (GlobalIndex("by_x", KeyAttribute("x")),)
)
BUS = "the_bus"
API = WebSocketApi("the_ws_api", {"$default": "fn"})

#: Every grant a definition can hold on this system's resources, plus none at all.
GRANTS = [
    pytest.param((), id="no-grant"),
    pytest.param((Grant("dynamodb:read", "things"),), id="dynamodb:read"),
    pytest.param((Grant("dynamodb:write", "things"),), id="dynamodb:write"),
    pytest.param((Grant("events:PutEvents", BUS),), id="events:PutEvents"),
    pytest.param((Grant("execute-api:ManageConnections", API.name),), id="ManageConnections"),
]


def test_the_grants_walked_here_are_every_grant_kind() -> None:
    walked = {g.kind for p in GRANTS for g in p.values[0]}
    assert walked == set(GRANT_ACTIONS)


class Manager:
    """A management API that accepts everything: only the authorizer may refuse."""

    api_name = API.name

    def post(self, connection_id: str, data: bytes) -> None:
        pass

    def get(self, connection_id: str) -> dict[str, Any]:
        return {"ConnectedAt": "2026-01-01T00:00:00Z"}

    def delete(self, connection_id: str) -> None:
        pass


class Platform:
    """The services a handler reaches, with nothing that can refuse but IAM."""

    def __init__(self) -> None:
        self.identity = RuntimeIdentity()
        self.tables = MemoryTableStore()
        self.tables.create_table(TABLE)
        self.telemetry = NO_TELEMETRY

    def put_events(self, entries: Sequence[Any]) -> dict[str, Any]:
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"} for _ in entries]}

    def connection_manager(self, endpoint_url: str | None) -> Manager:
        return Manager()


@dataclass(frozen=True)
class Operation:
    """One call the local SDK serves: the IAM action and resource AWS authorizes it as."""

    action: str
    resource: ResourceRef
    call: Callable[[Session], object]


def _table(session: Session) -> Any:
    return session.resource("dynamodb").Table("things")


def _batch_write(session: Session) -> None:
    with _table(session).batch_writer() as batch:
        batch.put_item(Item={"pk": "a", "sk": "b"})


def _post(session: Session) -> object:
    management = session.client("apigatewaymanagementapi", endpoint_url="https://x/production")
    return management.post_to_connection(Data=b"x", ConnectionId="c1")


TABLE_REF = ResourceRef("table", "things")
INDEX_REF = ResourceRef("table_index", "things", index="by_x")


def _connections(method: str) -> ResourceRef:
    return ResourceRef(
        "websocket_connections", API.name, path=f"production/{method}/@connections/*"
    )


KEY = {"pk": "a", "sk": "b"}
OPERATIONS = {
    "GetItem": Operation("dynamodb:GetItem", TABLE_REF, lambda s: _table(s).get_item(Key=KEY)),
    "Query": Operation(
        "dynamodb:Query",
        TABLE_REF,
        lambda s: _table(s).query(
            KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": "a"}
        ),
    ),
    "Query on an index": Operation(
        "dynamodb:Query",
        INDEX_REF,
        lambda s: _table(s).query(
            IndexName="by_x",
            KeyConditionExpression="x = :x",
            ExpressionAttributeValues={":x": "a"},
        ),
    ),
    "Scan": Operation("dynamodb:Scan", TABLE_REF, lambda s: _table(s).scan()),
    "DescribeTable": Operation("dynamodb:DescribeTable", TABLE_REF, lambda s: _table(s).load()),
    "PutItem": Operation("dynamodb:PutItem", TABLE_REF, lambda s: _table(s).put_item(Item=KEY)),
    "UpdateItem": Operation(
        "dynamodb:UpdateItem",
        TABLE_REF,
        lambda s: _table(s).update_item(
            Key=KEY, UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": 1}
        ),
    ),
    "DeleteItem": Operation(
        "dynamodb:DeleteItem", TABLE_REF, lambda s: _table(s).delete_item(Key=KEY)
    ),
    "BatchWriteItem": Operation("dynamodb:BatchWriteItem", TABLE_REF, _batch_write),
    "PutEvents": Operation(
        "events:PutEvents",
        ResourceRef("bus", BUS),
        lambda s: s.client("events").put_events(
            Entries=[
                {"Source": "s", "DetailType": "t", "Detail": json.dumps({}), "EventBusName": BUS}
            ]
        ),
    ),
    "PostToConnection": Operation("execute-api:ManageConnections", _connections("POST"), _post),
    "GetConnection": Operation(
        "execute-api:ManageConnections",
        _connections("GET"),
        lambda s: s.client(
            "apigatewaymanagementapi", endpoint_url="https://x/production"
        ).get_connection(ConnectionId="c1"),
    ),
    "DeleteConnection": Operation(
        "execute-api:ManageConnections",
        _connections("DELETE"),
        lambda s: s.client(
            "apigatewaymanagementapi", endpoint_url="https://x/production"
        ).delete_connection(ConnectionId="c1"),
    ),
}


def _definition(grants: tuple[Grant, ...]) -> SystemDefinition:
    function = Function(
        "fn", Path(__file__).parent, f"{Path(__file__).stem}.handler", grants=grants
    )
    return SystemDefinition(
        "iam", (EventBus(BUS),), (function,), tables=(TABLE,), websocket_api=API
    )


def _deployed_allows(grants: tuple[Grant, ...], operation: Operation) -> bool:
    (function,) = stack_spec(_definition(grants)).functions
    return any(
        operation.action in policy.actions and operation.resource in policy.resources
        for policy in function.policies
    )


def _locally_allows(grants: tuple[Grant, ...], operation: Operation) -> bool:
    (function,) = _definition(grants).functions
    session = Session(Platform(), function)
    try:
        operation.call(session)
    except ClientError as error:
        if error.response["Error"]["Code"] != "AccessDeniedException":
            raise  # only IAM may refuse here
        return False
    return True


@pytest.mark.parametrize("grants", GRANTS)
@pytest.mark.parametrize("operation", list(OPERATIONS), ids=list(OPERATIONS))
def test_the_local_verdict_is_the_deployed_policys(
    grants: tuple[Grant, ...], operation: str
) -> None:
    served = OPERATIONS[operation]
    assert _locally_allows(grants, served) is _deployed_allows(grants, served)


@pytest.mark.parametrize(
    ("grant", "allowed"),
    [
        pytest.param(
            "dynamodb:read", {"GetItem", "Query", "Query on an index"}, id="read-never-writes"
        ),
        pytest.param(
            "dynamodb:write",
            {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"},
            id="write-never-reads",
        ),
    ],
)
def test_a_table_grant_allows_its_own_operations_only(grant: str, allowed: set[str]) -> None:
    grants = (Grant(grant, "things"),)  # type: ignore[arg-type]
    assert {name for name, op in OPERATIONS.items() if _locally_allows(grants, op)} == allowed


def test_a_grant_on_another_table_allows_nothing_on_this_one() -> None:
    other = Table("other", KeyAttribute("pk"))
    function = Function(
        "fn",
        Path(__file__).parent,
        f"{Path(__file__).stem}.handler",
        grants=(Grant("dynamodb:read", "other"), Grant("dynamodb:write", "other")),
    )
    definition = SystemDefinition("iam", (EventBus(BUS),), (function,), tables=(TABLE, other))
    session = Session(Platform(), definition.functions[0])
    for name in ("GetItem", "PutItem", "Query", "DeleteItem"):
        with pytest.raises(ClientError) as refused:
            OPERATIONS[name].call(session)
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"


WHO = "User: arn:aws:sts::000000000000:assumed-role/fn-role/fn is not authorized to perform:"
ALL_ACTIONS = (
    "dynamodb:BatchGetItem, dynamodb:BatchWriteItem, dynamodb:DeleteItem, dynamodb:GetItem, "
    "dynamodb:PutItem, dynamodb:Query, dynamodb:UpdateItem, events:PutEvents, "
    "execute-api:ManageConnections"
)


@pytest.mark.parametrize(
    ("grants", "operation", "message"),
    [
        pytest.param(
            (),
            "PutItem",
            f"{WHO} dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/"
            "things because no identity-based policy allows the dynamodb:PutItem action. Add "
            'Grant("dynamodb:write", "things") to function \'fn\' in the system definition.',
            id="a-write-names-the-write-grant",
        ),
        pytest.param(
            (Grant("dynamodb:read", "things"),),
            "Scan",
            f"{WHO} dynamodb:Scan on resource: arn:aws:dynamodb:us-east-1:000000000000:table/"
            "things because no identity-based policy allows the dynamodb:Scan action. No grant "
            f"allows it; grants allow only: {ALL_ACTIONS}.",
            id="a-scan-says-no-grant-allows-it",
        ),
        pytest.param(
            (),
            "PutEvents",
            f"{WHO} events:PutEvents on resource: arn:aws:events:us-east-1:000000000000:"
            "event-bus/the_bus because no identity-based policy allows the events:PutEvents "
            'action. Add Grant("events:PutEvents", "the_bus") to function \'fn\' in the '
            "system definition.",
            id="a-put-names-the-bus-grant",
        ),
        pytest.param(
            (),
            "PostToConnection",
            f"{WHO} execute-api:ManageConnections on resource: arn:aws:execute-api:us-east-1:"
            "000000000000:the_ws_api/*/POST/@connections/c1 because no identity-based policy "
            "allows the execute-api:ManageConnections action. Add "
            'Grant("execute-api:ManageConnections", "the_ws_api") to function \'fn\' in the '
            "system definition.",
            id="a-post-names-the-manage-connections-grant",
        ),
        pytest.param(
            (Grant("execute-api:ManageConnections", API.name),),
            "GetConnection",
            f"{WHO} execute-api:ManageConnections on resource: arn:aws:execute-api:us-east-1:"
            "000000000000:the_ws_api/*/GET/@connections/c1: a ManageConnections grant covers "
            "POST on @connections only, as the deployed role does.",
            id="a-get-says-what-the-grant-covers",
        ),
    ],
)
def test_a_refusal_says_who_was_refused_what_on_which_arn_and_how_to_fix_it(
    grants: tuple[Grant, ...], operation: str, message: str
) -> None:
    session = Session(Platform(), _definition(grants).functions[0])
    with pytest.raises(ClientError) as refused:
        OPERATIONS[operation].call(session)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert refused.value.response["Error"]["Message"] == message
