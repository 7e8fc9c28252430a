"""The distributed runtime: the same system across processes and machines, on NATS JetStream.

The parts are embedded's (the PutEvents validation and envelope, the pattern engine, the
function runtime with its execution environments, the gateway's HTTP and WebSocket APIs, the
boto3-shaped clients), composed over NATS through the seams of :mod:`pizzabus.contracts`:

- a **gateway node** (``pizzabus serve --nats``) serves the APIs; PutEvents is one stored
  JetStream publish (:mod:`.publisher`); ``$connect``/messages/Lambda routes are invoked on a
  worker by request/reply (:mod:`.invoker`); it answers pushes for the sockets it holds
  (:mod:`.pushes`);
- a **worker** (``pizzabus worker``) routes accepted events to one delivery per target with
  the pattern engine (:mod:`.router`), runs deliveries in execution environments with
  EventBridge's retry policy (:mod:`.retry`, :mod:`.consumer`), and dead-letters the last
  failure; a supervisor restarts worker processes that die (:mod:`.supervisor`).

Only this package imports ``nats``; it needs ``pip install 'pizzabus[nats]'``.
"""

try:
    import nats as _nats  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "The distributed runtime needs NATS's client: pip install 'pizzabus[nats]'"
    ) from error
