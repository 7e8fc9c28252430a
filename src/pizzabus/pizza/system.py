"""The lab's system, as one definition that every runtime reads.

It is the wiring of the AWS lab with the departures the README lists ("Where pizzabus departs
from the lab"), each marked ``(§2.N)`` where it appears:

1. the receive rule also matches ``delivered``;
2. ``receive_events`` reads ``websocket_connections``, not a table nobody writes;
3. ``$disconnect`` (and a 410 on push) removes connections;
4. an order may have several connections (sort key ``connection_id``);
5. handlers raise on failure, so the bus retries and finally dead-letters;
6. an order's stages are kept in ``order_timeline``; a new connection catches up by itself
   (``$connect`` puts a ``connected`` event that ``receive_events`` handles);
7. a body without ``item.order_id`` is refused, and stage rules require the expected ``source``,
   so a posted ``eventtype: "delivered"`` advances nothing.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from pizzabus.system import (
    Archive,
    Cors,
    EventBus,
    Function,
    GlobalIndex,
    Grant,
    HttpApi,
    HttpRoute,
    KeyAttribute,
    LambdaIntegration,
    PutEventsIntegration,
    Rule,
    SystemDefinition,
    Table,
    Target,
    WebSocketApi,
    WebSocketEndpoint,
)

FUNCTIONS_DIR = Path(__file__).parent / "functions"
WEB_CLIENT_DIR = Path(__file__).parent / "web"

BUS = "lab_event_bus"
HTTP_SOURCE = "lab_http_api"
CONNECTIONS_TABLE = "websocket_connections"
TIMELINE_TABLE = "order_timeline"
WEBSOCKET_API = "lab_websocket_api"
#: The longest STAGE_DELAY_MS, well inside the stage functions' 3 s timeout.
MAX_STAGE_DELAY_MS = 2000

#: The event ``$connect`` puts on the bus so that a new connection is caught up (§2.6).
CONNECTED = "connected"
CONNECT_SOURCE = "websocket_connect"

#: Each stage, the source that may announce it (§2.7), and the function that handles it.
STAGES: tuple[tuple[str, str], ...] = (
    ("make_pizza", HTTP_SOURCE),
    ("cook_pizza", "make_pizza"),
    ("deliver_pizza", "cook_pizza"),
    ("delivered", "deliver_pizza"),
)


def _stage_pattern(eventtype: str, source: str) -> dict[str, Any]:
    return {"source": [source], "detail": {"item": {"eventtype": [eventtype]}}}


def _stage_delay() -> dict[str, str]:
    """``STAGE_DELAY_MS`` from the environment of ``pizzabus serve`` (``STAGE_DELAY_MS=800 make
    run``), handed to the stage functions so each takes that long: with the 50–135 ms the stages
    take otherwise, nobody can watch a pizza move. Unset (or 0), the functions get nothing."""
    raw = os.environ.get("STAGE_DELAY_MS", "").strip()
    if not raw or raw == "0":
        return {}
    if not raw.isdigit() or int(raw) > MAX_STAGE_DELAY_MS:
        raise ValueError(
            f"STAGE_DELAY_MS must be a whole number of milliseconds from 0 to "
            f"{MAX_STAGE_DELAY_MS} (the stages' timeout is 3 s), got {raw!r}"
        )
    return {"STAGE_DELAY_MS": str(int(raw))}


def _stage_function(name: str) -> Function:
    return Function(
        name=name,
        code_dir=FUNCTIONS_DIR,
        handler=f"{name}.lambda_handler",
        environment={"EVENT_BUS": BUS, **_stage_delay()},
        grants=(Grant("events:PutEvents", BUS),),
        description=f"The {name.replace('_', ' ')} stage: sets the next eventtype and puts it back",
    )


ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["item"],
    "properties": {
        "item": {
            "type": "object",
            "required": ["order_id", "eventtype"],
            "properties": {
                "order_id": {"type": "string", "minLength": 1, "maxLength": 128},
                # Only the first stage may be posted; the pipeline sets the later ones (§2.7).
                "eventtype": {"const": "make_pizza"},
            },
        }
    },
}

#: The largest order body, in bytes. Every stage is recorded in the timeline as
#: ``json.dumps(detail)`` and pushed as that text to the order's sockets, and a WebSocket
#: message holds at most 128 KiB (a DynamoDB item's 400 KB comes later). Re-encoding can grow
#: a body: ``1e15`` is written back as ``1000000000000000.0`` (4.5 times its bytes; a
#: non-ASCII character grows at most 3 times, as ``\uXXXX``), and the stages rename
#: ``eventtype`` (3 bytes more). So 28 KiB x 4.5 + 3 < 128 KiB: any order accepted is one every
#: stage can record and push, and a larger one is refused with 413 instead of retried for a day.
ORDER_MAX_BODY_BYTES = 28 * 1024

ORDER_EXAMPLE = {
    "item": {
        "order_id": "6f1c2a0e-2d7b-4a53-9d1c-0b8f4a1e2c3d",
        "eventtype": "make_pizza",
        "pizza": "margherita",
    }
}

SYSTEM = SystemDefinition(
    name="pizzabus-lab",
    buses=(
        EventBus(
            name=BUS,
            # Every event is kept a week, so `pizzabus replay` can send a window again.
            archive=Archive(name="lab_event_bus_archive", retention=timedelta(days=7)),
            rules=(
                Rule(
                    name="lab_make_pizza_rule",
                    event_pattern=_stage_pattern("make_pizza", HTTP_SOURCE),
                    targets=(Target("make_pizza"),),
                ),
                Rule(
                    name="lab_cook_pizza_rule",
                    event_pattern=_stage_pattern("cook_pizza", "make_pizza"),
                    targets=(Target("cook_pizza"),),
                ),
                Rule(
                    name="lab_deliver_pizza_rule",
                    event_pattern=_stage_pattern("deliver_pizza", "cook_pizza"),
                    targets=(Target("deliver_pizza"),),
                ),
                Rule(
                    name="lab_receive_events_rule",
                    # Every stage, `delivered` included (§2.1), each only from its own source,
                    # and a new connection's catch-up (§2.6).
                    event_pattern={
                        "$or": [
                            *(_stage_pattern(e, s) for e, s in STAGES),
                            _stage_pattern(CONNECTED, CONNECT_SOURCE),
                        ]
                    },
                    targets=(Target("receive_events"),),
                ),
            ),
        ),
    ),
    functions=(
        _stage_function("make_pizza"),
        _stage_function("cook_pizza"),
        _stage_function("deliver_pizza"),
        Function(
            name="websocket_connect",
            code_dir=FUNCTIONS_DIR,
            handler="websocket_connect.lambda_handler",
            environment={"TABLENAME": CONNECTIONS_TABLE, "EVENT_BUS": BUS},
            grants=(Grant("dynamodb:write", CONNECTIONS_TABLE), Grant("events:PutEvents", BUS)),
            description="$connect: remembers which order a connection follows, asks for its "
            "catch-up",
        ),
        Function(
            name="websocket_disconnect",
            code_dir=FUNCTIONS_DIR,
            handler="websocket_disconnect.lambda_handler",
            environment={"TABLENAME": CONNECTIONS_TABLE},
            grants=(
                Grant("dynamodb:read", CONNECTIONS_TABLE),
                Grant("dynamodb:write", CONNECTIONS_TABLE),
            ),
            description="$disconnect: forgets the connection (§2.3)",
        ),
        Function(
            name="receive_events",
            code_dir=FUNCTIONS_DIR,
            handler="receive_events.lambda_handler",
            environment={
                "TABLENAME": CONNECTIONS_TABLE,  # §2.2: the lab says `receive_events`
                "TIMELINE_TABLE": TIMELINE_TABLE,
                "APIGW_ENDPOINT": WebSocketEndpoint(WEBSOCKET_API),
            },
            timeout=timedelta(seconds=10),
            grants=(
                Grant("dynamodb:read", CONNECTIONS_TABLE),
                Grant("dynamodb:write", CONNECTIONS_TABLE),
                Grant("dynamodb:read", TIMELINE_TABLE),
                Grant("dynamodb:write", TIMELINE_TABLE),
                Grant("execute-api:ManageConnections", WEBSOCKET_API),
            ),
            description="Records each stage and pushes it to every connection of the order",
        ),
        Function(
            name="get_order",
            code_dir=FUNCTIONS_DIR,
            handler="get_order.lambda_handler",
            environment={"TIMELINE_TABLE": TIMELINE_TABLE},
            grants=(Grant("dynamodb:read", TIMELINE_TABLE),),
            description="GET /orders/{order_id}: the order's timeline (§2.6)",
        ),
    ),
    tables=(
        Table(
            name=CONNECTIONS_TABLE,
            partition_key=KeyAttribute("order_id"),
            sort_key=KeyAttribute("connection_id"),  # §2.4: several connections per order
            indexes=(GlobalIndex("by_connection", KeyAttribute("connection_id")),),
            ttl_attribute="expires_at",
        ),
        Table(
            name=TIMELINE_TABLE,
            partition_key=KeyAttribute("order_id"),
            sort_key=KeyAttribute("seq", "N"),
            ttl_attribute="expires_at",
        ),
    ),
    http_api=HttpApi(
        name="lab_http_api",
        routes=(
            HttpRoute(
                method="POST",
                path="/",
                integration=PutEventsIntegration(
                    bus=BUS, source=HTTP_SOURCE, detail_type="eventtype"
                ),
                request_schema=ORDER_SCHEMA,
                example=ORDER_EXAMPLE,
                max_body_bytes=ORDER_MAX_BODY_BYTES,
            ),
            HttpRoute(
                method="GET",
                path="/orders/{order_id}",
                integration=LambdaIntegration("get_order"),
            ),
        ),
        cors=Cors(allow_origins=("*",), allow_methods=("POST",), allow_headers=("*",)),
    ),
    websocket_api=WebSocketApi(
        name=WEBSOCKET_API,
        routes={
            "$connect": "websocket_connect",
            "$disconnect": "websocket_disconnect",
            # A new connection catches up by itself (§2.6: $connect puts a `connected` event);
            # {"action": "sync"} asks for the same again, as the web client does once open.
            "sync": "receive_events",
        },
        route_selection_expression="$request.body.action",
        stage="production",
    ),
    web_client=WEB_CLIENT_DIR,
)
