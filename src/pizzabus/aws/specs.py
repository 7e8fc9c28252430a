"""The pure step of the AWS deploy: a system definition → resource specs.

Nothing here imports the CDK or talks to AWS. Every decision that can be made from the definition
alone is made here, where it is tested without synthesizing: names, patterns, retry policies,
which IAM actions each grant means, and what the AWS deploy cannot do the way the local runtime
does. ``pizzabus.aws.stack`` then only turns these specs into constructs and resolves the
references (ARNs, URLs) that exist once CloudFormation creates the resources.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pizzabus.errors import DefinitionError
from pizzabus.system.iam import CONNECTION_METHODS, GRANT_ACTIONS
from pizzabus.system.model import (
    Function,
    Grant,
    HttpApi,
    PutEventsIntegration,
    Rule,
    SystemDefinition,
    Table,
    WebSocketApi,
    WebSocketEndpoint,
)

#: Lambda's own limits on retrying an asynchronous invocation whose handler raised.
LAMBDA_MAX_ASYNC_RETRIES = 2
LAMBDA_MAX_ASYNC_EVENT_AGE = 6 * 3600

#: Files of a code folder that never ship in a Lambda asset.
ASSET_EXCLUDES: tuple[str, ...] = ("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")

#: API Gateway's own limit on an HTTP API request body.
AWS_MAX_BODY_BYTES = 10 * 1024 * 1024

_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")


@dataclass(frozen=True)
class ResourceRef:
    """An ARN the stack resolves once the resource exists.

    ``kind`` is ``bus``, ``table``, ``table_index`` (``index`` names it) or
    ``websocket_connections`` (``path`` is the part after the API id, e.g.
    ``production/POST/@connections/*``).
    """

    kind: Literal["bus", "table", "table_index", "websocket_connections"]
    name: str
    index: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class PolicySpec:
    """One IAM statement (effect Allow) of a function's role."""

    actions: tuple[str, ...]
    resources: tuple[ResourceRef, ...]


@dataclass(frozen=True)
class FunctionSpec:
    """A Lambda function. ``environment`` holds literal values; ``websocket_endpoints`` maps an
    environment variable to the WebSocket API whose management (connection) URL it receives."""

    name: str
    code_dir: Path
    handler: str
    runtime: str
    timeout_seconds: int
    memory_mb: int
    reserved_concurrency: int | None
    description: str
    environment: Mapping[str, str]
    websocket_endpoints: Mapping[str, str]
    policies: tuple[PolicySpec, ...]
    asset_excludes: tuple[str, ...] = ASSET_EXCLUDES


@dataclass(frozen=True)
class TargetSpec:
    """A rule's Lambda target with its retry policy and (optional) SQS dead-letter queue.

    EventBridge invokes Lambda asynchronously: its retry policy covers failures to *deliver*
    (throttling, service errors), while an error the handler raises is retried by Lambda's
    asynchronous invocation, at most ``LAMBDA_MAX_ASYNC_RETRIES`` times within
    ``LAMBDA_MAX_ASYNC_EVENT_AGE``. ``async_*`` are the definition's policy within those limits;
    the stack sends what still fails to the same dead-letter queue (DESIGN §2.5)."""

    function: str
    maximum_retry_attempts: int
    maximum_event_age_seconds: int
    dead_letter_queue: bool
    async_retry_attempts: int
    async_max_event_age_seconds: int


@dataclass(frozen=True)
class RuleSpec:
    """An EventBridge rule; ``event_pattern`` is a plain JSON-ready dict, ``$or`` included."""

    name: str
    bus: str
    event_pattern: dict[str, Any]
    description: str
    targets: tuple[TargetSpec, ...]


@dataclass(frozen=True)
class KeySpec:
    name: str
    type: Literal["S", "N", "B"]


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: KeySpec
    sort_key: KeySpec | None


@dataclass(frozen=True)
class TableSpec:
    """A DynamoDB table, on-demand, with an optional TTL attribute."""

    name: str
    partition_key: KeySpec
    sort_key: KeySpec | None
    indexes: tuple[IndexSpec, ...]
    ttl_attribute: str | None


@dataclass(frozen=True)
class PutEventsRouteSpec:
    """An HTTP route integrated with EventBridge PutEvents (subtype ``EventBridge-PutEvents``).

    ``request_parameters`` are the integration's mapping, ``EventBusName`` aside (the stack adds
    the bus ARN, as the lab does)."""

    method: str
    path: str
    bus: str
    request_parameters: Mapping[str, str]


@dataclass(frozen=True)
class LambdaRouteSpec:
    """An HTTP route with a Lambda proxy integration."""

    method: str
    path: str
    function: str
    payload_format_version: str = "2.0"


@dataclass(frozen=True)
class CorsSpec:
    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...]
    allow_headers: tuple[str, ...]


@dataclass(frozen=True)
class HttpApiSpec:
    name: str
    routes: tuple[PutEventsRouteSpec | LambdaRouteSpec, ...]
    cors: CorsSpec


@dataclass(frozen=True)
class WebSocketApiSpec:
    """A WebSocket API: route key → function, one stage."""

    name: str
    route_selection_expression: str
    stage: str
    routes: Mapping[str, str]


@dataclass(frozen=True)
class Difference:
    """Something the definition asks for that the AWS deploy does differently, and why."""

    what: str
    why: str


@dataclass(frozen=True)
class StackSpec:
    """Everything one CloudFormation stack holds."""

    stack_name: str
    buses: tuple[str, ...]
    rules: tuple[RuleSpec, ...]
    functions: tuple[FunctionSpec, ...]
    tables: tuple[TableSpec, ...]
    http_api: HttpApiSpec | None
    websocket_api: WebSocketApiSpec | None
    differences: tuple[Difference, ...]


def stack_spec(definition: SystemDefinition) -> StackSpec:
    """Turn a (valid) system definition into the specs of its AWS stack."""
    definition.validate()
    if not _STACK_NAME.match(definition.name):
        raise DefinitionError(
            f"system name {definition.name!r} cannot name a CloudFormation stack: use letters, "
            "digits and hyphens, starting with a letter"
        )
    ws = definition.websocket_api
    return StackSpec(
        stack_name=definition.name,
        buses=tuple(bus.name for bus in definition.buses),
        rules=tuple(_rule(bus.name, rule) for bus in definition.buses for rule in bus.rules),
        functions=tuple(_function(definition, f) for f in definition.functions),
        tables=tuple(_table(t) for t in definition.tables),
        http_api=_http_api(definition.http_api) if definition.http_api else None,
        websocket_api=_websocket_api(ws) if ws else None,
        differences=_differences(definition),
    )


def _rule(bus: str, rule: Rule) -> RuleSpec:
    return RuleSpec(
        name=rule.name,
        bus=bus,
        event_pattern=copy.deepcopy(_plain(rule.event_pattern)),
        description=rule.description,
        targets=tuple(
            TargetSpec(
                function=t.function,
                maximum_retry_attempts=t.retry_policy.maximum_retry_attempts,
                maximum_event_age_seconds=int(t.retry_policy.maximum_event_age.total_seconds()),
                dead_letter_queue=t.dead_letter_queue,
                async_retry_attempts=min(
                    t.retry_policy.maximum_retry_attempts, LAMBDA_MAX_ASYNC_RETRIES
                ),
                async_max_event_age_seconds=min(
                    int(t.retry_policy.maximum_event_age.total_seconds()),
                    LAMBDA_MAX_ASYNC_EVENT_AGE,
                ),
            )
            for t in rule.targets
        ),
    )


def _plain(value: Any) -> Any:
    """Mappings and tuples of a definition as the dicts and lists JSON (and jsii) expect."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _function(definition: SystemDefinition, function: Function) -> FunctionSpec:
    timeout = function.timeout.total_seconds()
    if timeout != int(timeout) or not 1 <= timeout <= 900:
        raise DefinitionError(
            f"function {function.name!r}: Lambda timeouts are whole seconds from 1 to 900, "
            f"got {timeout:g}"
        )
    if not 128 <= function.memory_mb <= 10_240:
        raise DefinitionError(
            f"function {function.name!r}: Lambda memory is 128 to 10240 MB, "
            f"got {function.memory_mb}"
        )
    return FunctionSpec(
        name=function.name,
        code_dir=function.code_dir,
        handler=function.handler,
        runtime=function.runtime,
        timeout_seconds=int(timeout),
        memory_mb=function.memory_mb,
        reserved_concurrency=function.reserved_concurrency,
        description=function.description,
        environment={k: v for k, v in function.environment.items() if isinstance(v, str)},
        websocket_endpoints={
            k: v.api for k, v in function.environment.items() if isinstance(v, WebSocketEndpoint)
        },
        policies=tuple(_policy(definition, grant) for grant in function.grants),
    )


def _policy(definition: SystemDefinition, grant: Grant) -> PolicySpec:
    actions = GRANT_ACTIONS[grant.kind]
    if grant.kind == "events:PutEvents":
        return PolicySpec(actions, (ResourceRef("bus", grant.resource),))
    if grant.kind == "execute-api:ManageConnections":
        api = definition.websocket_api
        if api is None:  # validate() refuses this; kept for -O runs and type narrowing
            raise DefinitionError(f"grant {grant.kind}: the definition has no WebSocket API")
        paths = [f"{api.stage}/{method}/@connections/*" for method in CONNECTION_METHODS]
        return PolicySpec(
            actions, tuple(ResourceRef("websocket_connections", api.name, path=p) for p in paths)
        )
    table = definition.table(grant.resource)
    resources = [ResourceRef("table", table.name)]
    if grant.kind == "dynamodb:read":
        # Query on a global index is authorized on the index's own ARN.
        resources += [ResourceRef("table_index", table.name, index=i.name) for i in table.indexes]
    return PolicySpec(actions, tuple(resources))


def _table(table: Table) -> TableSpec:
    return TableSpec(
        name=table.name,
        partition_key=KeySpec(table.partition_key.name, table.partition_key.type),
        sort_key=KeySpec(table.sort_key.name, table.sort_key.type) if table.sort_key else None,
        indexes=tuple(
            IndexSpec(
                name=i.name,
                partition_key=KeySpec(i.partition_key.name, i.partition_key.type),
                sort_key=KeySpec(i.sort_key.name, i.sort_key.type) if i.sort_key else None,
            )
            for i in table.indexes
        ),
        ttl_attribute=table.ttl_attribute,
    )


def _http_api(api: HttpApi) -> HttpApiSpec:
    routes: list[PutEventsRouteSpec | LambdaRouteSpec] = []
    for route in api.routes:
        integration = route.integration
        if isinstance(integration, PutEventsIntegration):
            routes.append(
                PutEventsRouteSpec(
                    method=route.method,
                    path=route.path,
                    bus=integration.bus,
                    request_parameters={
                        "Detail": "$request.body",
                        "DetailType": integration.detail_type,
                        "Source": integration.source,
                    },
                )
            )
        else:
            routes.append(LambdaRouteSpec(route.method, route.path, integration.function))
    cors = CorsSpec(api.cors.allow_origins, api.cors.allow_methods, api.cors.allow_headers)
    return HttpApiSpec(name=api.name, routes=tuple(routes), cors=cors)


def _websocket_api(api: WebSocketApi) -> WebSocketApiSpec:
    return WebSocketApiSpec(
        name=api.name,
        route_selection_expression=api.route_selection_expression,
        stage=api.stage,
        routes=dict(api.routes),
    )


def _differences(definition: SystemDefinition) -> tuple[Difference, ...]:
    api = definition.http_api
    if api is None:
        return ()
    differences: list[Difference] = []
    for route in api.routes:
        if route.max_body_bytes is not None and route.max_body_bytes < AWS_MAX_BODY_BYTES:
            differences.append(
                Difference(
                    what=f"{api.name} {route.route_key}: max_body_bytes={route.max_body_bytes}",
                    why=(
                        "API Gateway HTTP APIs cannot bound one route's body below 10 MB: a "
                        "larger body is accepted (up to EventBridge's 1 MiB entry), and the "
                        "stage that cannot process it fails until its retries run out."
                    ),
                )
            )
        if route.request_schema is not None:
            differences.append(
                Difference(
                    what=f"{api.name} {route.route_key}: request_schema",
                    why=(
                        "API Gateway HTTP APIs do not validate request bodies, so the body is "
                        "not checked against the schema and a bad body is not refused with 400. "
                        "Any JSON object is put on the bus; events that no rule matches do "
                        "nothing, and stage rules still require the expected source."
                    ),
                )
            )
    differences.extend(_retry_differences(definition))
    if api.max_body_bytes != AWS_MAX_BODY_BYTES:
        differences.append(
            Difference(
                what=f"{api.name}: max_body_bytes={api.max_body_bytes}",
                why="API Gateway's HTTP API body limit is fixed at 10 MB; it cannot be lowered.",
            )
        )
    return tuple(differences)


def _retry_differences(definition: SystemDefinition) -> list[Difference]:
    differences = []
    for bus in definition.buses:
        for rule in bus.rules:
            for target in rule.targets:
                policy = target.retry_policy
                if (
                    policy.maximum_retry_attempts > LAMBDA_MAX_ASYNC_RETRIES
                    or policy.maximum_event_age.total_seconds() > LAMBDA_MAX_ASYNC_EVENT_AGE
                ):
                    differences.append(
                        Difference(
                            what=f"{rule.name} → {target.function}: retry_policy",
                            why=(
                                "an error the handler raises is retried by Lambda at most "
                                f"{LAMBDA_MAX_ASYNC_RETRIES} times within "
                                f"{LAMBDA_MAX_ASYNC_EVENT_AGE // 3600} h, then dead-lettered; "
                                f"the policy's {policy.maximum_retry_attempts} attempts apply "
                                "to EventBridge's delivery failures only"
                            ),
                        )
                    )
    return differences
