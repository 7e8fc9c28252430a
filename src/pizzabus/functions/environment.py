"""One execution environment: a thread that loads a function's code once and runs its
invocations one at a time, as a Lambda execution environment does."""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import enum
import json
import queue
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pizzabus.functions import environ, logs
from pizzabus.functions.context import LambdaContext
from pizzabus.functions.errors import FunctionError, InvocationInterrupt
from pizzabus.functions.loader import CodeNamespace
from pizzabus.system import Function


class EnvironmentState(enum.Enum):
    """The lifecycle of an execution environment."""

    NEW = "new"  # created, code not loaded yet
    IDLE = "idle"  # warm, waiting for an invocation
    BUSY = "busy"  # running an invocation
    DEAD = "dead"  # timed out, exited or retired: never used again


_STARTABLE = (EnvironmentState.NEW, EnvironmentState.IDLE)


class IllegalTransition(RuntimeError):
    """An execution environment was asked to do something its state does not allow."""


@dataclass
class _Job:
    payload: bytes
    context: LambdaContext
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


class ExecutionEnvironment:
    """A warm environment of one function, on its own thread."""

    def __init__(
        self,
        function: Function,
        variables: dict[str, str],
        overrides: Mapping[str, ModuleType],
        name: str,
    ) -> None:
        self.function = function
        self.variables = variables
        self.namespace = CodeNamespace(function.code_dir, overrides)
        self.state = EnvironmentState.NEW
        self.name = name
        self._inbox: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._handler: Callable[..., Any] | None = None
        #: The context inline invocations run in: this environment's variables and log
        #: attribution, as its thread has them.
        self._inline_context: contextvars.Context | None = None
        #: Wall and CPU seconds of the last invocation run on the thread.
        self.last_wall = 0.0
        self.last_cpu = 0.0
        #: Seconds the last invocation spent loading the code (a cold start), until taken.
        self._init: float | None = None
        #: When it last went idle (the runtime clock's monotonic time): it is retired after
        #: idling too long (see :mod:`pizzabus.functions.retirement`).
        self.idle_since = 0.0
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _transition(self, expected: tuple[EnvironmentState, ...], new: EnvironmentState) -> None:
        # A tuple, not a set: membership by identity, without hashing an Enum in Python code.
        if self.state not in expected:
            names = " or ".join(sorted(s.value for s in expected))
            raise IllegalTransition(
                f"environment {self.name} is {self.state.value}, expected {names}"
            )
        self.state = new

    def invoke(
        self, payload: bytes, context: LambdaContext, loop: asyncio.AbstractEventLoop
    ) -> asyncio.Future[Any]:
        """Start an invocation; the future resolves to the handler's result or a
        :class:`FunctionError`."""
        self._transition(_STARTABLE, EnvironmentState.BUSY)
        future: asyncio.Future[Any] = loop.create_future()
        self._inbox.put(_Job(payload, context, loop, future))
        return future

    def finished(self) -> None:
        """The invocation is over and the environment may take another."""
        self._transition((EnvironmentState.BUSY,), EnvironmentState.IDLE)

    def run_inline(self, payload: bytes, context: LambdaContext) -> tuple[bool, Any]:
        """Run an invocation on the calling thread (the loop's), in this environment's context:
        ``(True, result)`` or ``(False, FunctionError)``. The environment must be warm.
        :class:`InvocationInterrupt` (its timeout) passes through."""
        self._transition((EnvironmentState.IDLE,), EnvironmentState.BUSY)
        if self._inline_context is None:
            self._inline_context = contextvars.Context()
            self._inline_context.run(environ.enter, self.variables)
        # The handler must not see the server's loop as running, as on its own thread: a
        # handler that calls asyncio.run() gets a loop of its own.
        server_loop = asyncio.events._get_running_loop()
        asyncio.events._set_running_loop(None)
        try:
            return self._inline_context.run(self._outcome, payload, context)
        finally:
            asyncio.events._set_running_loop(server_loop)

    def take_init(self) -> float | None:
        """The seconds the last invocation spent loading the handler's code (its Init
        Duration), once; None when the code was already loaded."""
        init, self._init = self._init, None
        return init

    def kill(self, *, interrupt: bool = True) -> None:
        """Stop the environment: its thread is interrupted if it is still running a handler
        (a blocking call is interrupted when it returns), and it never runs again."""
        was_busy = self.state is EnvironmentState.BUSY
        self.state = EnvironmentState.DEAD
        self._inbox.put(None)
        if interrupt and was_busy and self._thread.ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(self._thread.ident), ctypes.py_object(InvocationInterrupt)
            )

    # --- on the environment's own thread -------------------------------------------------

    def _serve(self) -> None:
        environ.enter(self.variables)
        try:
            self._serve_jobs()
        except InvocationInterrupt:
            return  # the interrupt arrived after the handler had already returned

    def _serve_jobs(self) -> None:
        while True:
            job = self._inbox.get()
            if job is None:
                return
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                outcome = self._outcome(job.payload, job.context)
            except InvocationInterrupt:
                return  # timed out: the caller has already reported it
            self.last_wall = time.perf_counter() - wall
            self.last_cpu = time.thread_time() - cpu
            try:
                job.loop.call_soon_threadsafe(_settle, job.future, outcome)
            except RuntimeError:
                return  # the loop is closed: the runtime has stopped
            if self.state is EnvironmentState.DEAD:
                return

    def _outcome(self, payload: bytes, context: LambdaContext) -> tuple[bool, Any]:
        try:
            return True, self._run(payload, context)
        except InvocationInterrupt:
            raise
        except SystemExit as error:
            self.state = EnvironmentState.DEAD
            return False, _exit_error(error)
        except FunctionError as error:
            return False, error
        except BaseException as error:
            return False, _handler_error(error)

    def _run(self, payload: bytes, context: LambdaContext) -> Any:
        logs.begin(self.function.name, context.aws_request_id)
        try:
            if self._handler is None:
                loading = time.perf_counter()
                try:
                    self._handler = self.namespace.handler(
                        self.function.module, self.function.attribute
                    )
                finally:
                    self._init = time.perf_counter() - loading
            result = self._handler(json.loads(payload), context)
        finally:
            logs.end()
        try:
            json.dumps(result)
        except (TypeError, ValueError) as error:
            raise FunctionError(
                "Runtime.MarshalError", f"Unable to marshal response: {error}"
            ) from error
        return result


def _settle(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if future.done():
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


#: The function runtime's own modules: their frames are not part of a handler's stack trace.
_RUNTIME_DIR = str(Path(__file__).resolve().parent)


def _handler_error(error: BaseException) -> FunctionError:
    """The error as Lambda reports it; its ``stackTrace`` starts in the handler's code, as
    Lambda's does, not in the runtime that called it."""
    summary = traceback.extract_tb(error.__traceback__)
    start = 0
    while start < len(summary) - 1 and summary[start].filename.startswith(_RUNTIME_DIR):
        start += 1
    frames = traceback.StackSummary.from_list(summary[start:]).format()
    return FunctionError(type(error).__name__, str(error), [f.rstrip("\n") for f in frames])


def _exit_error(error: SystemExit) -> FunctionError:
    code = error.code if isinstance(error.code, int) else (0 if error.code is None else 1)
    return FunctionError("Runtime.ExitError", f"Runtime exited with error: exit status {code}")
