"""pizzabus: an event-driven, serverless system on one machine, deployable unchanged to AWS.

The package tree is the architecture:

- ``system``    the system definition model: plain data every runtime reads.
- ``patterns``  the EventBridge event-pattern engine (pure: no I/O, no asyncio).
- ``bus``       the embedded event bus: PutEvents, rules, delivery with retries.
- ``functions`` the function runtime: Lambda-like execution environments.
- ``tables``    DynamoDB-shaped tables on SQLite or in memory.
- ``gateway``   the HTTP API and WebSocket API (one ASGI app) and the web client.
- ``sdk``       boto3-shaped clients that handlers use when they run locally.
- ``embedded``  the composition root of the embedded runtime.
- ``aws``       the CDK stack derived from the system definition.
- ``pizza``     the application: a system definition plus its handlers.
- ``cli``       the ``pizzabus`` command.
"""

__version__ = "0.1.0"
