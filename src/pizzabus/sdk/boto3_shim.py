"""The ``boto3`` a handler imports when it runs on the embedded runtime.

It offers what the lab's handlers use, with boto3's names: ``client("events")``,
``resource("dynamodb").Table(name)`` and ``client("apigatewaymanagementapi", endpoint_url=…)``.
Anything else fails with a message naming what is available, rather than reaching for AWS.
"""

from __future__ import annotations

import types
from typing import Any

from pizzabus.errors import PizzabusError
from pizzabus.sdk.apigateway import ManagementClient
from pizzabus.sdk.dynamodb import DynamoDBResource
from pizzabus.sdk.events import EventsClient
from pizzabus.sdk.grants import Authorizer
from pizzabus.sdk.platform import Platform
from pizzabus.system import Function

SUPPORTED = (
    "client('events'), client('apigatewaymanagementapi', endpoint_url=…), resource('dynamodb')"
)


class UnsupportedService(PizzabusError):
    code = "UnknownServiceError"


class Session:
    """``boto3.session.Session`` for one function: makes its local clients."""

    def __init__(self, platform: Platform, function: Function, **_: Any) -> None:
        self._platform = platform
        self._authorizer = Authorizer(function, platform.identity)
        self.region_name = platform.identity.region

    def client(self, service_name: str, *_: Any, endpoint_url: str | None = None, **__: Any) -> Any:
        if service_name == "events":
            return EventsClient(self._platform, self._authorizer)
        if service_name == "apigatewaymanagementapi":
            manager = self._platform.connection_manager(endpoint_url)
            api = getattr(manager, "api_name", "")
            return ManagementClient(manager, self._authorizer, api, self._platform.telemetry)
        raise UnsupportedService(
            f"boto3.client({service_name!r}) is not available to handlers on pizzabus's embedded "
            f"runtime; it offers {SUPPORTED}."
        )

    def resource(self, service_name: str, *_: Any, **__: Any) -> Any:
        if service_name == "dynamodb":
            return DynamoDBResource(self._platform.tables, authorize=self._authorizer.table)
        raise UnsupportedService(
            f"boto3.resource({service_name!r}) is not available to handlers on pizzabus's "
            f"embedded runtime; it offers {SUPPORTED}."
        )


def boto3_module(platform: Platform, function: Function) -> types.ModuleType:
    """A ``boto3`` module for one execution environment of ``function``."""
    module = types.ModuleType("boto3", "pizzabus's stand-in for boto3 (embedded runtime)")
    session = Session(platform, function)
    module.__dict__.update(
        client=session.client,
        resource=session.resource,
        Session=lambda **kw: Session(platform, function, **kw),
        session=types.SimpleNamespace(Session=lambda **kw: Session(platform, function, **kw)),
        setup_default_session=lambda **kw: None,
        __version__="pizzabus",
    )
    return module
