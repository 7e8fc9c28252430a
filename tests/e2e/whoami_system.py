"""The lab's system plus a WebSocket route ``whoami`` that tells a socket its connection id, so
a test can address that socket from outside (boto3, the AWS CLI)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pizzabus.pizza.system import SYSTEM as LAB
from pizzabus.pizza.system import WEBSOCKET_API
from pizzabus.system import Function, Grant, WebSocketEndpoint

WHOAMI = Function(
    name="whoami",
    code_dir=Path(__file__).parent / "whoami_functions",
    handler="whoami.lambda_handler",
    environment={"APIGW_ENDPOINT": WebSocketEndpoint(WEBSOCKET_API)},
    grants=(Grant("execute-api:ManageConnections", WEBSOCKET_API),),
)

assert LAB.websocket_api is not None
SYSTEM = dataclasses.replace(
    LAB,
    functions=(*LAB.functions, WHOAMI),
    websocket_api=dataclasses.replace(
        LAB.websocket_api, routes={**LAB.websocket_api.routes, "whoami": "whoami"}
    ),
)
