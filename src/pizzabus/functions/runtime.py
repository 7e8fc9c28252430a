"""The function runtime: invoke a function by name, as Lambda does."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from pizzabus.clock import Clock, SystemClock
from pizzabus.contracts.identity import RuntimeIdentity
from pizzabus.contracts.ids import uuid4
from pizzabus.contracts.invoker import NOT_NOW, Invoke, InvokeNow
from pizzabus.errors import NotFoundError
from pizzabus.functions import environ, logs
from pizzabus.functions import environment as environment_module
from pizzabus.functions import inline as inline_module
from pizzabus.functions.context import LambdaContext
from pizzabus.functions.environment import EnvironmentState, ExecutionEnvironment
from pizzabus.functions.errors import FunctionError, FunctionTimedOut, InvocationInterrupt
from pizzabus.functions.faults import FaultInjector
from pizzabus.functions.inline import GcPauses, InlineAlarm, InlinePolicy, Placement
from pizzabus.functions.retirement import DEFAULT_IDLE_TTL, IdleRetirement
from pizzabus.functions.slots import Slots
from pizzabus.system import Function, WebSocketEndpoint
from pizzabus.telemetry import NO_TELEMETRY, Recorder
from pizzabus.telemetry.recorder import OpenInvocation
from pizzabus.telemetry.traceid import ENV_VAR as TRACE_VARIABLE

#: Concurrency of a function without reserved concurrency (Lambda's account default is 1,000;
#: one machine is better served by a few warm environments per function).
DEFAULT_CONCURRENCY = 16


#: Gives an environment of a function the modules that replace real ones (``boto3``).
OverridesFactory = Callable[[Function], Mapping[str, ModuleType]]
#: Resolves an environment value that names a resource (a WebSocket API's endpoint).
EndpointResolver = Callable[[WebSocketEndpoint], str]


#: The runtime's own code around an inline handler: the timeout's alarm never raises in it.
_RUNTIME_FILES = frozenset(
    {
        __file__,
        inline_module.__file__ or "",
        environment_module.__file__ or "",
        logs.__file__ or "",
        environ.__file__ or "",
    }
)


class _Pool:
    """The execution environments of one function and its concurrency limit."""

    def __init__(
        self,
        function: Function,
        limit: int,
        placement: Placement,
        now: Callable[[], float],
        went_idle: Callable[[], None],
    ) -> None:
        self.function = function
        self.slots = Slots(limit)
        self.timeout = function.timeout.total_seconds()
        #: A stack: the most recently used is reused first, so the bottom is the longest idle
        #: (what retirement takes first), and a pool shrinks back when a burst is over.
        self.idle: list[ExecutionEnvironment] = []
        self._now = now
        self._went_idle = went_idle
        #: Environments shut down after idling past the time to live, since the start.
        self.retired = 0
        self.serial = itertools.count(1)
        self.placement = placement
        #: Bumped when the code changes: environments of an older generation are not reused.
        self.generation = 0
        self.generations: dict[ExecutionEnvironment, int] = {}

    def keep(self, environment: ExecutionEnvironment) -> None:
        """Put a finished environment back as idle, unless its code is out of date."""
        if self.generations.get(environment, self.generation) == self.generation:
            environment.idle_since = self._now()
            self.idle.append(environment)
            self._went_idle()
        else:
            self.generations.pop(environment, None)
            environment.kill(interrupt=False)

    def oldest_idle(self) -> float | None:
        return self.idle[0].idle_since if self.idle else None

    def retire(self, idle_since: float) -> int:
        """Shut down the environments idle since ``idle_since`` or before (the bottom of the
        stack); their threads end, and their modules are freed."""
        count = 0
        for environment in self.idle:
            if environment.idle_since > idle_since:
                break
            self.generations.pop(environment, None)
            environment.kill(interrupt=False)
            count += 1
        del self.idle[:count]
        self.retired += count
        return count


class FunctionRuntime:
    """Runs functions of a system definition in warm execution environments."""

    def __init__(
        self,
        functions: tuple[Function, ...],
        *,
        overrides: OverridesFactory,
        resolve_endpoint: EndpointResolver,
        identity: RuntimeIdentity | None = None,
        clock: Clock | None = None,
        default_concurrency: int = DEFAULT_CONCURRENCY,
        faults: FaultInjector | None = None,
        inline: InlinePolicy | None = None,
        telemetry: Recorder | None = None,
        idle_ttl: float | None = DEFAULT_IDLE_TTL,
    ) -> None:
        """``inline``: run the warm invocations of quick functions on the loop's thread (see
        :mod:`pizzabus.functions.inline`); None keeps every invocation on its thread.
        ``telemetry`` hears of every invocation (logs, metrics, traces). ``idle_ttl``: seconds
        an environment may stay idle before it is shut down (see
        :mod:`pizzabus.functions.retirement`; None keeps it for good)."""
        self.telemetry: Recorder = telemetry or NO_TELEMETRY
        self.identity = identity or RuntimeIdentity()
        self.faults = faults or FaultInjector()
        self.clock = clock or SystemClock()
        self._overrides = overrides
        self._resolve_endpoint = resolve_endpoint
        # Inline runs keep time with the real clock (SIGALRM), so an injected clock keeps
        # every invocation on threads, where timeouts follow it. They start in bind(), once
        # the alarm is installed.
        self._inline_policy = inline if isinstance(self.clock, SystemClock) else None
        self._inline: InlinePolicy | None = None
        self._alarm = InlineAlarm(protected=_RUNTIME_FILES)
        self._gc_pauses = GcPauses()
        self.retirement = IdleRetirement(idle_ttl, self.clock)
        self._pools = {
            f.name: _Pool(
                f,
                f.reserved_concurrency or default_concurrency,
                inline.new_placement() if inline else Placement(),
                self.clock.monotonic,
                self.retirement.went_idle,
            )
            for f in functions
        }
        self.retirement.pools.extend(self._pools.values())
        self._retiring: asyncio.Task[None] | None = None
        self._busy: set[ExecutionEnvironment] = set()
        self._arns = {f.name: self.function_arn(f.name) for f in functions}
        environ.install()
        logs.install()

    def function(self, name: str) -> Function:
        return self._pool(name).function

    def _pool(self, name: str) -> _Pool:
        pool = self._pools.get(name)
        if pool is None:
            raise NotFoundError(
                f"Function not found: {self.function_arn(name)}", code="ResourceNotFoundException"
            )
        return pool

    def placements(self) -> dict[str, Placement]:
        """Where each function's invocations run now, and how many ran where."""
        return {name: pool.placement for name, pool in self._pools.items()}

    def discard(self, names: list[str]) -> int:
        """Discard the warm environments of these functions (their code changed): idle ones
        now, busy ones when their invocation ends. The next invocation loads the code afresh,
        as a new Lambda version would. Returns how many were discarded now."""
        discarded = 0
        for name in names:
            pool = self._pool(name)
            pool.generation += 1
            for environment in pool.idle:
                environment.kill(interrupt=False)
                discarded += 1
            pool.idle.clear()
            busy = [e for e in self._busy if e.function.name == name]
            pool.generations = dict.fromkeys(busy, pool.generation - 1)
        return discarded

    def concurrency(self) -> dict[str, int]:
        """Invocations running now, per function."""
        return {name: pool.slots.limit - pool.slots.free for name, pool in self._pools.items()}

    def bind(self) -> None:
        """Call on the event loop's thread before invoking: inline runs need its signal, and
        idle environments are retired by a task on the loop."""
        if self._inline_policy is not None and self._alarm.install():
            self._inline = self._inline_policy
            self._gc_pauses.install()
        if self._retiring is None:
            self._retiring = asyncio.get_running_loop().create_task(self.retirement.run())

    def environments(self) -> dict[str, dict[str, int]]:
        """Per function: its warm environments now (idle or busy), and how many were retired
        after idling past the time to live since the start."""
        busy: dict[str, int] = {}
        for environment in self._busy:
            busy[environment.function.name] = busy.get(environment.function.name, 0) + 1
        return {
            name: {"warm": len(pool.idle) + busy.get(name, 0), "retired": pool.retired}
            for name, pool in self._pools.items()
        }

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.identity.region}:{self.identity.account}:function:{name}"

    async def invoke(self, name: str, payload: bytes, log: logs.InvocationLog | None = None) -> Any:
        """Run the function on ``payload`` (the event as JSON) and return its result.

        Waits for a free execution environment when the function is at its concurrency
        limit. Raises :class:`FunctionError` when the handler fails, and
        :class:`FunctionTimedOut` when it runs past its timeout. ``log``, when given, gets the
        lines the handler writes.
        """
        pool = self._pool(name)
        if not pool.slots.try_take():
            self.telemetry.invocation_throttled(name)
            await pool.slots.take()
        try:
            fault = self.faults.invocation(name)
            if fault is not None:
                trace = self.telemetry.begin_invocation()
                try:
                    await self._inject_fault(pool.function, pool.timeout, fault)
                except FunctionError as error:
                    duration = pool.timeout if fault == "timeout" else 0.0
                    self.telemetry.invoked(
                        name, uuid4(), pool.function.memory_mb, duration, None, error, trace
                    )
                    raise
            if pool.placement.inline and pool.idle and self._inline is not None:
                return self._invoke_inline(pool, pool.idle.pop(), payload, log)
            return await self._invoke_on_thread(pool, payload, log)
        finally:
            pool.slots.give()

    def invoke_now(self, name: str, payload: bytes) -> Any:
        """Run the invocation here and now when it can run inline at once (see
        :mod:`.inline`: the function runs inline, a warm environment is idle, a slot is free,
        and no fault plan names it); :data:`NOT_NOW` otherwise, for :meth:`invoke` to do.

        Call on the loop's thread, from a callback: it saves a task and its coroutines.
        """
        pool = self._pools.get(name)
        if (
            pool is None
            or not pool.placement.inline
            or not pool.idle
            or self._inline is None
            or self.faults.names(name)
            or not pool.slots.try_take()
        ):
            return NOT_NOW
        try:
            return self._invoke_inline(pool, pool.idle.pop(), payload)
        finally:
            pool.slots.give()

    async def _invoke_on_thread(
        self, pool: _Pool, payload: bytes, log: logs.InvocationLog | None = None
    ) -> Any:
        """Run an invocation on an environment's own thread (a new one if none is idle)."""
        timeout = pool.timeout
        environment = pool.idle.pop() if pool.idle else self._new_environment(pool)
        context = self._context(pool.function, environment, timeout)
        if log is not None:
            logs.collect(context.aws_request_id, log)
        trace = self._trace(environment)
        self._busy.add(environment)
        try:
            future = environment.invoke(payload, context, asyncio.get_running_loop())
            if not await self._finishes_in_time(future, timeout):
                environment.kill()
                if self._inline is not None:
                    self._inline.timed_out_on_thread(pool.placement)
                timed_out = FunctionTimedOut(context.aws_request_id, timeout)
                self._report(pool, context, timeout, environment.take_init(), timed_out, trace)
                raise timed_out
            init = environment.take_init()
            self._report(
                pool,
                context,
                environment.last_wall - (init or 0.0),
                init,
                future.exception(),
                trace,
            )
            if environment.state is EnvironmentState.BUSY:
                environment.finished()
                pool.keep(environment)
            if self._inline is not None:
                self._inline.ran_on_thread(
                    pool.function.name,
                    pool.placement,
                    environment.last_wall,
                    environment.last_cpu,
                )
            return future.result()
        finally:
            self._busy.discard(environment)
            if log is not None:
                logs.release(context.aws_request_id)

    def _invoke_inline(
        self,
        pool: _Pool,
        environment: ExecutionEnvironment,
        payload: bytes,
        log: logs.InvocationLog | None = None,
    ) -> Any:
        """Run a warm invocation on this (the loop's) thread; see :mod:`.inline`."""
        assert self._inline is not None
        context = self._context(pool.function, environment, pool.timeout)
        if log is not None:
            logs.collect(context.aws_request_id, log)
        trace = self._trace(environment)
        self._busy.add(environment)
        alarm, gc_pauses = self._alarm, self._gc_pauses
        started, paused = time.perf_counter(), gc_pauses.total
        try:
            try:
                alarm.arm(pool.timeout)
                ok, value = environment.run_inline(payload, context)
            finally:
                alarm.disarm()
                self._busy.discard(environment)
                if log is not None:
                    logs.release(context.aws_request_id)
        except InvocationInterrupt:
            timed_out = True
        else:
            # The handler may have swallowed the interrupt (a bare except:) and returned.
            timed_out = alarm.fired
        if timed_out:
            environment.kill(interrupt=False)
            self._inline.demote(pool.function.name, pool.placement, pool.timeout)
            error = FunctionTimedOut(context.aws_request_id, pool.timeout)
            self._report(pool, context, pool.timeout, None, error, trace)
            raise error
        elapsed = time.perf_counter() - started
        self._report(pool, context, elapsed, None, None if ok else value, trace)
        held = elapsed - (gc_pauses.total - paused)
        self._inline.ran_inline(pool.function.name, pool.placement, held)
        if environment.state is EnvironmentState.BUSY:
            environment.finished()
            pool.keep(environment)
        else:
            environment.kill(interrupt=False)  # it exited: let its thread go too
        if ok:
            return value
        raise value

    def _trace(self, environment: ExecutionEnvironment) -> OpenInvocation | None:
        """The invocation's place in its caller's trace; its handler sees the trace header
        in ``_X_AMZN_TRACE_ID``, as on Lambda (and botocore sends it on)."""
        trace = self.telemetry.begin_invocation()
        if trace is None:  # in no journey: what it puts on the bus may start one
            environment.variables.pop(TRACE_VARIABLE, None)
        else:
            environment.variables[TRACE_VARIABLE] = trace.header
        return trace

    def _report(
        self,
        pool: _Pool,
        context: LambdaContext,
        duration: float,
        init: float | None,
        error: BaseException | None,
        trace: OpenInvocation | None,
    ) -> None:
        self.telemetry.invoked(
            pool.function.name,
            context.aws_request_id,
            pool.function.memory_mb,
            duration,
            init,
            error,
            trace,
        )

    async def _inject_fault(self, function: Function, timeout: float, fault: str) -> None:
        if fault == "error":
            raise FunctionError(
                "Pizzabus.InjectedFault",
                f"An injected fault failed this invocation of {function.name} "
                "(see the fault plan: pizzabus faults show)",
            )
        if fault == "timeout":
            await self.clock.sleep(timeout)
            raise FunctionTimedOut(uuid4(), timeout)

    async def _finishes_in_time(self, future: asyncio.Future[Any], timeout: float) -> bool:
        if isinstance(self.clock, SystemClock):
            # The loop's own timer settles the future itself when the time is up: one timer
            # per invocation, and no waiter future or callbacks as asyncio.wait would add.
            handle = asyncio.get_running_loop().call_later(timeout, _expire, future)
            try:
                await future
            except _Expired:
                return False
            except Exception:
                pass  # the handler's error: the caller takes it from the future
            finally:
                handle.cancel()
            return True
        timer = asyncio.ensure_future(self.clock.sleep(timeout))
        try:
            await asyncio.wait({future, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        return future.done()

    def close(self) -> None:
        """Stop every execution environment (idle ones, and busy ones by interrupting them)."""
        if self._retiring is not None:
            self._retiring.cancel()
            self._retiring = None
        self._alarm.uninstall()
        self._gc_pauses.uninstall()
        for pool in self._pools.values():
            for environment in pool.idle:
                environment.kill()
            pool.idle.clear()
        for environment in list(self._busy):
            environment.kill()

    def _new_environment(self, pool: _Pool) -> ExecutionEnvironment:
        function = pool.function
        serial = next(pool.serial)
        return ExecutionEnvironment(
            function,
            self._variables(function),
            self._overrides(function),
            name=f"pizzabus-{function.name}-{serial}",
        )

    def _variables(self, function: Function) -> dict[str, str]:
        """The environment of an execution environment: the process's, Lambda's reserved
        variables, then the function's own."""
        variables = dict(environ.process_environment())
        variables.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": function.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": _log_stream(),
                "AWS_REGION": self.identity.region,
                "AWS_DEFAULT_REGION": self.identity.region,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
                "LAMBDA_TASK_ROOT": str(function.code_dir),
                "_HANDLER": function.handler,
            }
        )
        for key, value in function.environment.items():
            variables[key] = (
                self._resolve_endpoint(value) if isinstance(value, WebSocketEndpoint) else value
            )
        return variables

    def _context(
        self, function: Function, environment: ExecutionEnvironment, timeout: float
    ) -> LambdaContext:
        return LambdaContext(
            aws_request_id=uuid4(),
            function_name=function.name,
            invoked_function_arn=self._arns[function.name],
            memory_limit_in_mb=function.memory_mb,
            log_group_name=environment.variables["AWS_LAMBDA_LOG_GROUP_NAME"],
            log_stream_name=environment.variables["AWS_LAMBDA_LOG_STREAM_NAME"],
            deadline=self.clock.now() + timeout,
            now=self.clock.now,
        )


class _Expired(Exception):
    """Set on an invocation's future when its timeout passes first."""


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(_Expired())


def _log_stream() -> str:
    day = datetime.now(UTC).strftime("%Y/%m/%d")
    return f"{day}/[$LATEST]{secrets.token_hex(16)}"


__all__ = [
    "DEFAULT_CONCURRENCY",
    "NOT_NOW",
    "FunctionError",
    "FunctionRuntime",
    "Invoke",
    "InvokeNow",
    "RuntimeIdentity",
]
