"""Synchronous invocations across the broker: a gateway's ``$connect``, socket messages and
Lambda routes run on some worker, by NATS request/reply (a queue group: one worker answers).

The worker that takes a request answers at once ``{"alive": SUBJECT}``, then runs the function
and sends ``{"result": …}`` or ``{"error": [type, message]}`` to the subject the request named
(``Answer-To``). While it waits, the gateway asks SUBJECT now and then whether that worker
process still lives: once nobody answers there (its process exited, crashed or was killed, so
NATS dropped its subscriptions), the invocation fails at once with ``Runtime.ExitError``, as
Lambda's does when its runtime exits, instead of leaving the caller waiting out the function's
timeout. No worker answering the request is a ``FunctionError`` the gateway turns into a 500,
as API Gateway does when Lambda fails. A caller that wants what the invocation logged (Lambda's
``LogType: Tail``) asks with a header; the answer then carries the lines under ``"log"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from typing import Any, Protocol

import nats.errors
from nats.aio.msg import Msg

from pizzabus.contracts.invoker import NOT_NOW
from pizzabus.distributed.broker import Broker, headers_of
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
#: The request header naming where the worker sends the function's answer.
ANSWER_TO = "Answer-To"
#: How often a gateway waiting on an invocation asks whether its worker still lives, and how
#: long it waits for that answer. An unanswered check proves nothing (the worker may be busy,
#: or far); only "no responders" (its process is gone) fails the invocation.
LIVENESS_INTERVAL = 1.0
#: How long a worker waits for the broker to confirm it has its "alive" answer.
ACCEPT_FLUSH_SECONDS = 2
#: The request header that asks for the invocation's log in the answer.
LOG_HEADER = "Pizzabus-Log"
#: The most of a log an answer carries (Tail answers 4 KB; the rest stays on the worker).
LOG_BYTES = 64 * 1024


class LoggedInvoker(Protocol):
    """A local runtime that can hand its caller what an invocation logged."""

    async def invoke(self, name: str, payload: bytes, log: InvocationLog | None = None) -> Any: ...


class NatsInvoker:
    """The :class:`~pizzabus.contracts.Invoker` of a gateway node: every invocation is remote."""

    def __init__(self, broker: Broker, definition: SystemDefinition) -> None:
        self.broker = broker
        self.timeouts = {f.name: f.timeout.total_seconds() + MARGIN for f in definition.functions}
        self._prefix = broker.nc.new_inbox()
        self._answers: dict[str, asyncio.Future[bytes]] = {}
        self._next = 0

    async def start(self) -> None:
        """Subscribe to the answers of this gateway's invocations (one subscription for all)."""
        await self.broker.nc.subscribe(f"{self._prefix}.*", cb=self._on_answer)

    def invoke_now(self, name: str, payload: bytes) -> Any:
        return NOT_NOW

    async def invoke(self, name: str, payload: bytes, log: InvocationLog | None = None) -> Any:
        """Run ``name`` on some worker; ``log``, when given, gets what the invocation logged."""
        limit = self.timeouts.get(name, 5.0)
        self._next += 1
        key = str(self._next)
        answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._answers[key] = answer
        headers = {ANSWER_TO: f"{self._prefix}.{key}"}
        trace = traceid.current.get()
        if trace is not None:  # the worker runs it in the caller's trace (a request's)
            headers[TRACE_HEADER] = traceid.header(*trace)
        if log is not None:
            headers[LOG_HEADER] = "1"
        try:
            data = await self._request(name, payload, limit, headers)
            accepted = json.loads(data)
            if "alive" in accepted:  # a worker took it; its answer comes on our subject
                data = await self._answer(name, answer, accepted["alive"], limit)
        finally:
            del self._answers[key]
        reply = json.loads(data)
        if log is not None:
            log.request_id = reply.get("request_id", "")
            log.write(reply.get("log", ""))
        if "error" in reply:
            error_type, message = reply["error"]
            raise FunctionError(error_type, message)
        return reply.get("result")

    async def _request(
        self, name: str, payload: bytes, limit: float, headers: dict[str, str]
    ) -> bytes:
        subject = self.broker.names.invoke_subject(name)
        try:
            reply = await self.broker.nc.request(subject, payload, timeout=limit, headers=headers)
        except nats.errors.NoRespondersError as error:
            raise FunctionError(
                "Pizzabus.NoWorker",
                f"No worker is running {name}: start one with `pizzabus worker`.",
            ) from error
        except (nats.errors.TimeoutError, nats.errors.Error) as error:
            raise FunctionError(
                "Pizzabus.WorkerUnreachable", f"No answer from a worker running {name} ({error})."
            ) from error
        data: bytes = reply.data
        return data

    async def _answer(
        self, name: str, answer: asyncio.Future[bytes], alive: str, limit: float
    ) -> bytes:
        """The worker's answer; fails as soon as the worker is known to be gone."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while (remaining := deadline - loop.time()) > 0:
            done, _ = await asyncio.wait({answer}, timeout=min(LIVENESS_INTERVAL, remaining))
            if done:
                return answer.result()
            if not await self._lives(alive) and not answer.done():
                log.warning("the worker process running %s exited before answering", name)
                raise FunctionError(
                    "Runtime.ExitError",
                    f"The worker process running {name} exited before the function answered "
                    "(it crashed, called exit, or was killed); its supervisor restarts it.",
                )
        raise FunctionError(
            "Pizzabus.WorkerUnreachable",
            f"No answer from the worker running {name} within {limit:.0f} s.",
        )

    async def _lives(self, alive: str) -> bool:
        try:
            await self.broker.nc.request(alive, b"", timeout=LIVENESS_INTERVAL)
        except nats.errors.NoRespondersError:
            return False
        except (nats.errors.TimeoutError, nats.errors.Error):
            return True  # busy, or the broker slow: no proof it is gone
        return True

    async def _on_answer(self, message: Msg) -> None:
        answer = self._answers.get(message.subject.rpartition(".")[2])
        if answer is not None and not answer.done():
            answer.set_result(message.data)


class InvokeService:
    """A worker's side: answers invocation requests with the local runtime."""

    def __init__(
        self, broker: Broker, definition: SystemDefinition, invoker: LoggedInvoker
    ) -> None:
        self.broker = broker
        self.functions = [f.name for f in definition.functions]
        self.invoker = invoker
        self.alive = broker.names.alive_subject(os.urandom(6).hex())
        self._accepted = json.dumps({"alive": self.alive}).encode()

    async def start(self) -> None:
        await self.broker.nc.subscribe(self.alive, cb=self._answer_alive)
        for name in self.functions:
            await self.broker.nc.subscribe(
                self.broker.names.invoke_subject(name), queue=QUEUE, cb=self._handler(name)
            )

    async def _answer_alive(self, message: Msg) -> None:
        if message.reply:
            await self.broker.nc.publish(message.reply, b"")

    async def _accept(self, reply: str) -> None:
        await self.broker.nc.publish(reply, self._accepted)
        # The gateway must have it before the function runs: a handler that exits the process
        # at once would otherwise take the unsent answer with it, and leave the gateway
        # without the subject that tells it so.
        with contextlib.suppress(nats.errors.Error, TimeoutError):
            await self.broker.nc.flush(timeout=ACCEPT_FLUSH_SECONDS)

    def _handler(self, name: str) -> Any:
        async def handle(message: Msg) -> None:
            # A gateway that names where to answer is told at once who runs its invocation;
            # one that does not (an older one) gets the answer as the reply.
            headers = headers_of(message)
            answer_to = headers.get(ANSWER_TO) or message.reply
            if answer_to != message.reply and message.reply:
                await self._accept(message.reply)
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
            if answer_to:
                await self.broker.nc.publish(answer_to, data)

        return handle
