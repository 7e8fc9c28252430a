"""The signups system: one bus, one rule, one function writing a table, and two HTTP routes.

    POST /signups ─PutEvents─▶ bus signups_bus ─rule new_signup─▶ record_signup ─▶ table signups
    GET /signups/{email} ─Lambda proxy─▶ get_signup ─reads─▶ table signups

Serve it from the folder that holds ``signups/`` (``examples/signups``):

    pizzabus serve --system signups.system:SYSTEM
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pizzabus.system import (
    EventBus,
    Function,
    Grant,
    HttpApi,
    HttpRoute,
    KeyAttribute,
    LambdaIntegration,
    PutEventsIntegration,
    RetryPolicy,
    Rule,
    SystemDefinition,
    Table,
    Target,
)

FUNCTIONS = Path(__file__).parent / "functions"
BUS = "signups_bus"
TABLE = "signups"
SOURCE = "signups_api"

SIGNUP_SCHEMA = {
    "type": "object",
    "required": ["email", "name"],
    "properties": {
        "email": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+$", "maxLength": 254},
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
    },
}

SYSTEM = SystemDefinition(
    name="signups",
    buses=(
        EventBus(
            name=BUS,
            rules=(
                Rule(
                    name="new_signup",
                    # Matches the envelope the HTTP route puts on the bus: its Source and
                    # DetailType are the integration's `source` and `detail_type` below.
                    event_pattern={"source": [SOURCE], "detail-type": ["signup"]},
                    targets=(
                        Target(
                            "record_signup",
                            # EventBridge's default is 185 retries within 24 hours.
                            retry_policy=RetryPolicy(
                                maximum_retry_attempts=10,
                                maximum_event_age=timedelta(hours=1),
                            ),
                        ),
                    ),
                ),
            ),
        ),
    ),
    functions=(
        Function(
            name="record_signup",
            code_dir=FUNCTIONS,
            handler="record_signup.lambda_handler",
            environment={"TABLE": TABLE},
            grants=(Grant("dynamodb:write", TABLE),),
            description="Writes each signup to the signups table",
        ),
        Function(
            name="get_signup",
            code_dir=FUNCTIONS,
            handler="get_signup.lambda_handler",
            environment={"TABLE": TABLE},
            grants=(Grant("dynamodb:read", TABLE),),
            description="GET /signups/{email}: one signup",
        ),
    ),
    tables=(Table(name=TABLE, partition_key=KeyAttribute("email")),),
    http_api=HttpApi(
        name="signups_api",
        routes=(
            HttpRoute(
                method="POST",
                path="/signups",
                integration=PutEventsIntegration(bus=BUS, source=SOURCE, detail_type="signup"),
                request_schema=SIGNUP_SCHEMA,
                example={"email": "ada@example.com", "name": "Ada"},
            ),
            HttpRoute(
                method="GET",
                path="/signups/{email}",
                integration=LambdaIntegration("get_signup"),
            ),
        ),
    ),
)
