"""The data model of a system definition.

Everything here is a frozen dataclass of plain values (strings, numbers, mappings, tuples), so a
definition can be printed, compared, and turned into CloudFormation without running anything.
``SystemDefinition.validate()`` checks cross references and names once, at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pizzabus.errors import DefinitionError

JsonObject = Mapping[str, Any]


@dataclass(frozen=True)
class RetryPolicy:
    """EventBridge's per-target retry policy (defaults are AWS's)."""

    maximum_retry_attempts: int = 185
    maximum_event_age: timedelta = timedelta(seconds=86_400)

    def __post_init__(self) -> None:
        if not 0 <= self.maximum_retry_attempts <= 185:
            raise DefinitionError(
                f"maximum_retry_attempts must be between 0 and 185, got "
                f"{self.maximum_retry_attempts}"
            )
        seconds = self.maximum_event_age.total_seconds()
        if not 60 <= seconds <= 86_400:
            raise DefinitionError(
                f"maximum_event_age must be between 60 and 86400 seconds, got {seconds:g}"
            )


@dataclass(frozen=True)
class Target:
    """A rule target: a function, with its retry policy and a dead-letter queue."""

    function: str
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    dead_letter_queue: bool = True


@dataclass(frozen=True)
class Rule:
    """An EventBridge rule: an event pattern (JSON-shaped mapping) and its targets."""

    name: str
    event_pattern: JsonObject
    targets: tuple[Target, ...]
    description: str = ""


@dataclass(frozen=True)
class Archive:
    """An EventBridge archive of a bus: the events matching ``event_pattern`` (all events when
    it is ``None``), kept for ``retention`` (forever when ``None``), for replay."""

    name: str
    event_pattern: JsonObject | None = None
    retention: timedelta | None = None


@dataclass(frozen=True)
class EventBus:
    """A custom event bus, the rules on it, and its archive."""

    name: str
    rules: tuple[Rule, ...] = ()
    archive: Archive | None = None


@dataclass(frozen=True)
class WebSocketEndpoint:
    """An environment value resolved by the runtime: the connection (management) URL of a
    WebSocket API, as the lab's "copy the Connection URL" step would give it."""

    api: str


EnvValue = str | WebSocketEndpoint


@dataclass(frozen=True)
class Grant:
    """One permission of a function, in resource terms (turned into least-privilege IAM).

    ``kind`` is ``"events:PutEvents"`` on a bus, ``"dynamodb:read"``/``"dynamodb:write"`` on a
    table, or ``"execute-api:ManageConnections"`` on a WebSocket API.
    """

    kind: Literal[
        "events:PutEvents", "dynamodb:read", "dynamodb:write", "execute-api:ManageConnections"
    ]
    resource: str


@dataclass(frozen=True)
class Function:
    """A Lambda function: a handler in a code folder, its environment and its limits."""

    name: str
    code_dir: Path
    handler: str
    environment: Mapping[str, EnvValue] = field(default_factory=dict)
    timeout: timedelta = timedelta(seconds=3)
    memory_mb: int = 128
    reserved_concurrency: int | None = None
    runtime: str = "python3.12"
    grants: tuple[Grant, ...] = ()
    description: str = ""

    @property
    def module(self) -> str:
        """The handler's module name (``make_pizza`` in ``make_pizza.lambda_handler``)."""
        return self.handler.rpartition(".")[0]

    @property
    def attribute(self) -> str:
        """The handler's function name (``lambda_handler``)."""
        return self.handler.rpartition(".")[2]


@dataclass(frozen=True)
class KeyAttribute:
    """A key attribute of a table or index: its name and DynamoDB scalar type."""

    name: str
    type: Literal["S", "N", "B"] = "S"


@dataclass(frozen=True)
class GlobalIndex:
    """A global secondary index (projection: all attributes)."""

    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None


@dataclass(frozen=True)
class Table:
    """A DynamoDB table (on-demand)."""

    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    indexes: tuple[GlobalIndex, ...] = ()
    ttl_attribute: str | None = None


@dataclass(frozen=True)
class PutEventsIntegration:
    """API Gateway's EventBridge-PutEvents integration of an HTTP route.

    ``Detail`` is the request body, as the lab's ``$request.body`` mapping says.
    """

    bus: str
    source: str
    detail_type: str


@dataclass(frozen=True)
class LambdaIntegration:
    """A Lambda proxy integration (HTTP API payload format 2.0)."""

    function: str


@dataclass(frozen=True)
class HttpRoute:
    """One route of an HTTP API.

    ``request_schema`` is a JSON Schema the body must satisfy; a body that does not is refused
    with 400 before anything is published. ``example`` is shown in that error message.
    """

    method: str
    path: str
    integration: PutEventsIntegration | LambdaIntegration
    request_schema: JsonObject | None = None
    example: JsonObject | None = None
    #: Largest body this route accepts, when lower than the API's ``max_body_bytes`` (what
    #: the handlers behind it can process; a larger body is refused with 413).
    max_body_bytes: int | None = None

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Cors:
    """CORS as API Gateway configures it."""

    allow_origins: tuple[str, ...] = ("*",)
    allow_methods: tuple[str, ...] = ("POST",)
    allow_headers: tuple[str, ...] = ("*",)


@dataclass(frozen=True)
class HttpApi:
    """An API Gateway HTTP API."""

    name: str
    routes: tuple[HttpRoute, ...]
    cors: Cors = field(default_factory=Cors)
    #: Largest request body accepted, in bytes (API Gateway's own limit is 10 MB).
    max_body_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True)
class WebSocketApi:
    """An API Gateway WebSocket API: route keys (``$connect``, ``$disconnect``, ``$default`` or
    the value of the route selection expression) mapped to functions."""

    name: str
    routes: Mapping[str, str]
    route_selection_expression: str = "$request.body.action"
    stage: str = "production"
    #: API Gateway's limit on one message, in bytes (128 KB).
    max_message_bytes: int = 128 * 1024


@dataclass(frozen=True)
class SystemDefinition:
    """A whole system: what the lab builds by clicking through the console."""

    name: str
    buses: tuple[EventBus, ...]
    functions: tuple[Function, ...]
    tables: tuple[Table, ...] = ()
    http_api: HttpApi | None = None
    websocket_api: WebSocketApi | None = None
    #: A folder of static files (a web client) the local gateway serves: ``index.html`` at
    #: ``GET /`` and the rest under ``/static/``.
    web_client: Path | None = None

    def function(self, name: str) -> Function:
        for function in self.functions:
            if function.name == name:
                return function
        raise DefinitionError(
            f"no function named {name!r}; the definition has "
            f"{', '.join(f.name for f in self.functions) or 'none'}"
        )

    def bus(self, name: str) -> EventBus:
        for bus in self.buses:
            if bus.name == name:
                return bus
        raise DefinitionError(
            f"no event bus named {name!r}; the definition has "
            f"{', '.join(b.name for b in self.buses) or 'none'}"
        )

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise DefinitionError(
            f"no table named {name!r}; the definition has "
            f"{', '.join(t.name for t in self.tables) or 'none'}"
        )

    def validate(self) -> SystemDefinition:
        """Check names and references; raise :class:`DefinitionError` naming the first fault."""
        _unique("function", [f.name for f in self.functions])
        _unique("event bus", [b.name for b in self.buses])
        _unique("table", [t.name for t in self.tables])
        _unique("rule", [r.name for b in self.buses for r in b.rules])
        for bus in self.buses:
            for rule in bus.rules:
                if not rule.targets:
                    raise DefinitionError(f"rule {rule.name!r} has no targets; add at least one")
                for target in rule.targets:
                    self._function_ref(target.function, f"rule {rule.name!r}")
        for function in self.functions:
            if not (function.code_dir / f"{function.module.replace('.', '/')}.py").is_file():
                raise DefinitionError(
                    f"function {function.name!r}: handler file "
                    f"{function.code_dir / (function.module + '.py')} does not exist"
                )
            for value in function.environment.values():
                if isinstance(value, WebSocketEndpoint):
                    self._websocket_ref(value.api, f"function {function.name!r}")
            for grant in function.grants:
                self._grant_ref(grant, function.name)
        if self.http_api:
            for route in self.http_api.routes:
                where = f"route {route.route_key!r}"
                if isinstance(route.integration, PutEventsIntegration):
                    self._bus_ref(route.integration.bus, where)
                else:
                    self._function_ref(route.integration.function, where)
        if self.websocket_api:
            for key, function_name in self.websocket_api.routes.items():
                self._function_ref(function_name, f"WebSocket route {key!r}")
        if self.web_client is not None and not (self.web_client / "index.html").is_file():
            raise DefinitionError(f"web_client {self.web_client} has no index.html")
        return self

    def _function_ref(self, name: str, where: str) -> None:
        if name not in {f.name for f in self.functions}:
            raise DefinitionError(f"{where} targets function {name!r}, which is not defined")

    def _bus_ref(self, name: str, where: str) -> None:
        if name not in {b.name for b in self.buses}:
            raise DefinitionError(f"{where} names event bus {name!r}, which is not defined")

    def _websocket_ref(self, name: str, where: str) -> None:
        if self.websocket_api is None or self.websocket_api.name != name:
            raise DefinitionError(f"{where} names WebSocket API {name!r}, which is not defined")

    def _grant_ref(self, grant: Grant, function: str) -> None:
        where = f"function {function!r} grant {grant.kind}"
        if grant.kind == "events:PutEvents":
            self._bus_ref(grant.resource, where)
        elif grant.kind == "execute-api:ManageConnections":
            self._websocket_ref(grant.resource, where)
        elif grant.resource not in {t.name for t in self.tables}:
            raise DefinitionError(f"{where} names table {grant.resource!r}, which is not defined")


def bus_name_of(name_or_arn: str) -> str:
    """An ``EventBusName`` as PutEvents takes it, a name or an ARN (``…:event-bus/NAME``),
    as the bus's name."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn.rpartition("event-bus/")[2]
    return name_or_arn


def _unique(kind: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DefinitionError(f"two {kind}s are named {name!r}; names must be unique")
        seen.add(name)
