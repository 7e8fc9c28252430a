"""Synchronous invocations across the broker: a gateway's ``$connect``, socket messages and
Lambda routes run on some worker, by NATS request/reply (a queue group: one worker answers).

The reply is ``{"result": …}`` or ``{"error": [type, message]}``; no worker answering is a
``FunctionError`` the gateway turns into a 500, as API Gateway does when Lambda fails. A caller
that wants what the invocation logged (Lambda's ``LogType: Tail``) asks with a header; the
reply then carries the lines under ``"log"``.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

import nats.errors
from nats.aio.msg import Msg

from pizzabus.contracts.invoker import NOT_NOW
from pizzabus.distributed.broker import Broker
from pizzabus.distributed.subjects import TRACE_HEADER
from pizzabus.functions.errors import FunctionError
from pizzabus.functions.logs import InvocationLog
from pizzabus.system import SystemDefinition
from pizzabus.telemetry import traceid

log = logging.getLogger("pizzabus.distributed")

#: The queue group every worker's invoke service joins.
QUEUE = "workers"
#: Extra time past the function's timeout before a gateway gives up on an answer.
MARGIN = 2.0
#: The request header that asks for the invocation's log in the reply.
LOG_HEADER = "Pizzabus-Log"
#: The most of a log a reply carries (Tail answers 4 KB; the rest stays on the worker).
LOG_BYTES = 64 * 1024


class LoggedInvoker(Protocol):
    """A local runtime that can hand its caller what an invocation logged."""

    async def invoke(self, name: str, payload: bytes, log: InvocationLog | None = None) -> Any: ...


class NatsInvoker:
    """The :class:`~pizzabus.contracts.Invoker` of a gateway node: every invocation is remote."""

    def __init__(self, broker: Broker, definition: SystemDefinition) -> None:
        self.broker = broker
        self.timeouts = {f.name: f.timeout.total_seconds() + MARGIN for f in definition.functions}

    def invoke_now(self, name: str, payload: bytes) -> Any:
        return NOT_NOW

    async def invoke(self, name: str, payload: bytes, log: InvocationLog | None = None) -> Any:
        """Run ``name`` on some worker; ``log``, when given, gets what the invocation logged."""
        subject = self.broker.names.invoke_subject(name)
        trace = traceid.current.get()
        headers: dict[str, str] = {}
        if trace is not None:  # the worker runs it in the caller's trace (a request's)
            headers[TRACE_HEADER] = traceid.header(*trace)
        if log is not None:
            headers[LOG_HEADER] = "1"
        try:
            reply = await self.broker.nc.request(
                subject,
                payload,
                timeout=self.timeouts.get(name, 5.0),
                headers=headers or None,
            )
        except nats.errors.NoRespondersError as error:
            raise FunctionError(
                "Pizzabus.NoWorker",
                f"No worker is running {name}: start one with `pizzabus worker`.",
            ) from error
        except (nats.errors.TimeoutError, nats.errors.Error) as error:
            raise FunctionError(
                "Pizzabus.WorkerUnreachable", f"No answer from a worker running {name} ({error})."
            ) from error
        answer = json.loads(reply.data)
        if log is not None:
            log.request_id = answer.get("request_id", "")
            log.write(answer.get("log", ""))
        if "error" in answer:
            error_type, message = answer["error"]
            raise FunctionError(error_type, message)
        return answer.get("result")


class InvokeService:
    """A worker's side: answers invocation requests with the local runtime."""

    def __init__(
        self, broker: Broker, definition: SystemDefinition, invoker: LoggedInvoker
    ) -> None:
        self.broker = broker
        self.functions = [f.name for f in definition.functions]
        self.invoker = invoker

    async def start(self) -> None:
        for name in self.functions:
            await self.broker.nc.subscribe(
                self.broker.names.invoke_subject(name), queue=QUEUE, cb=self._handler(name)
            )

    def _handler(self, name: str) -> Any:
        async def handle(message: Msg) -> None:
            headers = message.headers or {}
            log = InvocationLog() if headers.get(LOG_HEADER) else None
            # This context is the invocation's: it runs in its caller's trace.
            traceid.current.set(traceid.parse(headers.get(TRACE_HEADER)))
            try:
                result = await self.invoker.invoke(name, message.data, log)
                answer: dict[str, Any] = {"result": result}
            except FunctionError as error:
                answer = {"error": [error.error_type, error.message]}
            if log is not None:
                answer["log"] = log.text()[-LOG_BYTES:]
                answer["request_id"] = log.request_id
            try:
                data = json.dumps(answer).encode()
            except (TypeError, ValueError) as error:
                data = json.dumps(
                    {"error": ["Runtime.MarshalError", f"Unable to marshal response: {error}"]}
                ).encode()
            if message.reply:
                await self.broker.nc.publish(message.reply, data)

        return handle
