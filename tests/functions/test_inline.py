"""Quick functions' warm invocations run inline on the loop's thread, once they have earned it,
and lose it when they block; timeouts, environment variables, log attribution and failures
behave as on the environment's own thread."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from click.testing import CliRunner

import pizzabus.cli.serve as serve_module
from pizzabus.clock import Clock, ManualClock
from pizzabus.embedded import EmbeddedSystem, Settings
from pizzabus.errors import PizzabusError
from pizzabus.functions import FunctionError, FunctionRuntime, FunctionTimedOut
from pizzabus.functions.errors import InvocationInterrupt
from pizzabus.functions.faults import FaultInjector, FaultPlan, FunctionFault
from pizzabus.functions.inline import (
    GcPauses,
    InlineAlarm,
    InlineLimits,
    InlinePolicy,
    Placement,
)
from pizzabus.functions.runtime import NOT_NOW
from pizzabus.system import EventBus, Function, Grant, Rule, SystemDefinition, Target

# pytest-timeout's default method takes SIGALRM for the whole test, and a runtime then (rightly)
# leaves inline runs off; a timer thread keeps the safety net without claiming the signal.
pytestmark = pytest.mark.timeout(60, method="thread")

CODE = Path(__file__).parent / "inline_functions"

#: Every thread invocation counts as quick, and no inline one blocks or burns enough to be
#: demoted: the tests that are about something else do not depend on how loaded the machine is.
ROOMY = InlineLimits(quick_cpu=1.0, quick_wall=10.0, inline_budget=1.0)
#: Every thread invocation counts as quick; the inline budget is the default (20 ms): for the
#: tests of demotion, whose handlers hold the loop far longer than that.
QUICK_THREADS = InlineLimits(quick_cpu=1.0, quick_wall=10.0)

Start = Callable[..., FunctionRuntime]


def _function(name: str, *, timeout: float = 3.0, **environment: str) -> Function:
    return Function(
        name=name,
        code_dir=CODE,
        handler="probe.lambda_handler",
        timeout=timedelta(seconds=timeout),
        environment=environment,
    )


def _event(action: str | None = None, **fields: object) -> bytes:
    return json.dumps({"do": action, **fields} if action else fields).encode()


def _runtime(
    *functions: Function,
    inline: InlinePolicy | None,
    clock: Clock | None = None,
    faults: FaultInjector | None = None,
) -> FunctionRuntime:
    return FunctionRuntime(
        functions,
        overrides=lambda function: {},
        resolve_endpoint=lambda endpoint: "http://127.0.0.1:1/production",
        clock=clock,
        faults=faults,
        inline=inline,
    )


@pytest.fixture(autouse=True)
def _sigalrm_back_to_default() -> Iterator[None]:
    # A test that fails half-way must not leave its alarm (or a timer) to the next test.
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)


@pytest.fixture
def start() -> Iterator[Start]:
    """Builds a runtime and binds it on this (the loop's, the main) thread; closes it after."""
    started: list[FunctionRuntime] = []

    def make(
        *functions: Function,
        inline: InlinePolicy | None = None,
        clock: Clock | None = None,
        faults: FaultInjector | None = None,
    ) -> FunctionRuntime:
        runtime = _runtime(*functions, inline=inline, clock=clock, faults=faults)
        runtime.bind()
        started.append(runtime)
        return runtime

    yield make
    for runtime in started:
        runtime.close()


async def _invoke(runtime: FunctionRuntime, name: str, event: bytes = b"{}") -> dict[str, Any]:
    result: dict[str, Any] = await runtime.invoke(name, event)
    return result


async def _promote(runtime: FunctionRuntime, name: str) -> dict[str, Any]:
    """Invoke quickly until the function runs inline; the last result (from its thread)."""
    last: dict[str, Any] = {}
    for _ in range(50):
        if runtime.placements()[name].inline:
            return last
        last = await _invoke(runtime, name)
    pytest.fail(f"{name} never ran inline: {runtime.placements()[name]}")


async def _until(condition: Callable[[], bool], what: str, *, seconds: float = 30.0) -> None:
    """Wait until ``condition`` holds; ``seconds`` is a failure guard, never an expectation."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting until {what}")
        await asyncio.sleep(0.001)


def _alive(thread_name: str) -> bool:
    return any(t.name == thread_name and t.is_alive() for t in threading.enumerate())


def _alarm_disarmed() -> bool:
    return signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


# --- the policy: pure decisions, no threads --------------------------------------------------

QUICK = {"wall": 0.001, "cpu": 0.001}


def test_a_function_runs_inline_after_promote_after_quick_thread_runs_in_a_row() -> None:
    policy = InlinePolicy(InlineLimits(promote_after=3))
    placement = policy.new_placement()
    assert placement == Placement(inline=False, streak=0, needed=3)
    for expected_streak in (1, 2):
        policy.ran_on_thread("oven", placement, **QUICK)
        assert placement.streak == expected_streak
        assert not placement.inline
    policy.ran_on_thread("oven", placement, **QUICK)
    assert placement.inline
    assert placement.thread_runs == 3


def test_a_new_placement_needs_the_configured_streak() -> None:
    assert InlinePolicy(InlineLimits(promote_after=5)).new_placement().needed == 5


def test_runs_exactly_at_the_quick_limits_still_count_as_quick() -> None:
    policy = InlinePolicy(InlineLimits(promote_after=1, quick_cpu=0.005, quick_wall=0.1))
    placement = policy.new_placement()
    policy.ran_on_thread("oven", placement, wall=0.1, cpu=0.005)
    assert placement.inline


@pytest.mark.parametrize(
    ("wall", "cpu"),
    [
        pytest.param(0.002, 0.006, id="cpu-over-quick-cpu"),
        pytest.param(0.101, 0.001, id="wall-over-quick-wall"),
    ],
)
def test_a_slow_thread_run_starts_the_streak_again(wall: float, cpu: float) -> None:
    policy = InlinePolicy(InlineLimits(promote_after=3, quick_cpu=0.005, quick_wall=0.1))
    placement = policy.new_placement()
    policy.ran_on_thread("oven", placement, **QUICK)
    policy.ran_on_thread("oven", placement, **QUICK)
    policy.ran_on_thread("oven", placement, wall=wall, cpu=cpu)
    assert placement.streak == 0
    assert not placement.inline
    for _ in range(2):
        policy.ran_on_thread("oven", placement, **QUICK)
    assert not placement.inline  # two quick runs after the slow one are not three in a row
    policy.ran_on_thread("oven", placement, **QUICK)
    assert placement.inline
    assert placement.thread_runs == 6


@pytest.mark.parametrize("held", [0.001, 0.02], ids=["quick", "exactly-the-budget"])
def test_an_inline_run_within_its_budget_keeps_the_function_inline(held: float) -> None:
    policy = InlinePolicy(InlineLimits(inline_budget=0.02))
    placement = Placement(inline=True, streak=3, needed=3)
    policy.ran_inline("oven", placement, held=held)
    assert placement == Placement(inline=True, streak=3, needed=3, inline_runs=1, inline_streak=1)


def test_a_second_inline_run_that_held_the_loop_too_long_demotes_and_doubles_the_streak() -> None:
    policy = InlinePolicy(InlineLimits(inline_budget=0.02))
    placement = Placement(inline=True, streak=3, needed=3, thread_runs=3)
    policy.ran_inline("oven", placement, held=0.021)
    # One is forgiven: most often the machine held the loop, not the handler.
    assert placement == Placement(
        inline=True, streak=3, needed=3, inline_runs=1, thread_runs=3, slow_runs=1
    )
    policy.ran_inline("oven", placement, held=0.001)
    policy.ran_inline("oven", placement, held=0.021)
    assert placement == Placement(
        inline=False, streak=0, needed=6, inline_runs=3, thread_runs=3, demotions=1
    )


def test_a_slow_inline_run_is_forgotten_after_slow_window_quick_ones() -> None:
    policy = InlinePolicy(InlineLimits(slow_window=4))
    placement = Placement(inline=True, needed=3)
    for _ in range(3):
        policy.ran_inline("oven", placement, held=1.0)
        for _ in range(4):
            policy.ran_inline("oven", placement, held=0.001)
    assert (placement.inline, placement.demotions) == (True, 0)
    policy.ran_inline("oven", placement, held=1.0)
    for _ in range(3):  # three quick ones are fewer than four
        policy.ran_inline("oven", placement, held=0.001)
    policy.ran_inline("oven", placement, held=1.0)
    assert (placement.inline, placement.demotions) == (False, 1)


def test_demote_after_one_restores_demotion_at_the_first_slow_run() -> None:
    policy = InlinePolicy(InlineLimits(demote_after=1))
    placement = Placement(inline=True, needed=3)
    policy.ran_inline("oven", placement, held=1.0)
    assert (placement.inline, placement.demotions, placement.needed) == (False, 1, 6)


def test_a_demoted_function_comes_back_after_twice_as_many_quick_runs_each_time() -> None:
    policy = InlinePolicy(InlineLimits(demote_after=1, promote_after=3))
    placement = policy.new_placement()
    for needed in (6, 12):
        while not placement.inline:
            policy.ran_on_thread("oven", placement, **QUICK)
        policy.ran_inline("oven", placement, held=1.0)
        assert not placement.inline
        assert placement.needed == needed
        for _ in range(needed - 1):
            policy.ran_on_thread("oven", placement, **QUICK)
        assert not placement.inline
        policy.ran_on_thread("oven", placement, **QUICK)
        assert placement.inline
    assert placement.demotions == 2
    assert placement.inline_runs == 2
    assert placement.thread_runs == 3 + 6 + 12


def test_the_streak_a_demoted_function_needs_stops_doubling_at_max_needed() -> None:
    policy = InlinePolicy(InlineLimits(demote_after=1, promote_after=3, max_needed=24))
    placement = policy.new_placement()
    needs = []
    for _ in range(6):
        while not placement.inline:
            policy.ran_on_thread("oven", placement, **QUICK)
        policy.ran_inline("oven", placement, held=1.0)
        needs.append(placement.needed)
    assert needs == [6, 12, 24, 24, 24, 24]
    # However often it was demoted, max_needed quick runs bring it back.
    for _ in range(23):
        policy.ran_on_thread("oven", placement, **QUICK)
    assert not placement.inline
    policy.ran_on_thread("oven", placement, **QUICK)
    assert placement.inline


def test_a_promote_after_above_max_needed_is_still_asked_for_in_full() -> None:
    policy = InlinePolicy(InlineLimits(demote_after=1, promote_after=200, max_needed=96))
    placement = policy.new_placement()
    placement.inline = True
    policy.ran_inline("oven", placement, held=1.0)
    assert placement.needed == 200


def test_forgive_after_quick_inline_runs_in_a_row_earlier_demotions_are_forgotten() -> None:
    policy = InlinePolicy(InlineLimits(demote_after=1, promote_after=3, forgive_after=5))
    placement = Placement(inline=True, needed=48, demotions=4)
    for _ in range(4):
        policy.ran_inline("oven", placement, held=0.001)
    assert placement.needed == 48  # four in a row are not five
    policy.ran_inline("oven", placement, held=1.0)  # a slow one starts the count again
    assert (placement.needed, placement.inline_streak) == (96, 0)
    while not placement.inline:
        policy.ran_on_thread("oven", placement, **QUICK)
    for _ in range(5):
        policy.ran_inline("oven", placement, held=0.001)
    assert placement.needed == 3
    # The next demotion asks for twice promote_after again, not twice 96.
    policy.ran_inline("oven", placement, held=1.0)
    assert placement.needed == 6


def test_a_demotion_is_logged_with_the_function_and_what_it_now_needs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = InlinePolicy(InlineLimits(demote_after=1))
    placement = Placement(inline=True, streak=3, needed=3)
    with caplog.at_level("INFO", logger="pizzabus.functions"):
        policy.ran_inline("cook_pizza", placement, held=0.25)
    assert "cook_pizza: an invocation held the event loop for 250 ms" in caplog.text
    assert "after 6 quick ones in a row" in caplog.text


# --- the alarm that bounds an inline invocation ----------------------------------------------


def _sleep_until_interrupted(alarm: InlineAlarm, timeout: float) -> None:
    alarm.arm(timeout)
    try:
        while True:
            time.sleep(0.01)
    finally:
        alarm.disarm()


def test_the_alarm_interrupts_a_sleeping_handler_at_its_timeout_and_disarms() -> None:
    alarm = InlineAlarm()
    assert alarm.install()
    try:
        with pytest.raises(InvocationInterrupt):
            _sleep_until_interrupted(alarm, 0.05)
        assert _alarm_disarmed()
    finally:
        alarm.uninstall()
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL


def test_an_alarm_arriving_after_disarm_is_ignored() -> None:
    alarm = InlineAlarm()
    assert alarm.install()
    try:
        alarm.arm(10)
        alarm.disarm()
        signal.raise_signal(signal.SIGALRM)  # late: the invocation has already returned
        assert _alarm_disarmed()
    finally:
        alarm.uninstall()


def test_the_alarm_is_refused_off_the_main_thread() -> None:
    installed: list[bool] = []
    thread = threading.Thread(target=lambda: installed.append(InlineAlarm().install()))
    thread.start()
    thread.join(10)
    assert installed == [False]
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL


def test_the_alarm_leaves_a_sigalrm_someone_else_claimed() -> None:
    def theirs(signum: int, frame: FrameType | None) -> None:
        pass

    signal.signal(signal.SIGALRM, theirs)
    alarm = InlineAlarm()
    assert not alarm.install()
    alarm.uninstall()
    assert signal.getsignal(signal.SIGALRM) is theirs


def test_gc_pauses_add_up_collections_while_installed() -> None:
    pauses = GcPauses()
    pauses.install()
    try:
        gc.collect()
        counted = pauses.total
        assert counted > 0
    finally:
        pauses.uninstall()
    gc.collect()
    assert pauses.total == counted


# --- the runtime, on a real loop on the main thread -------------------------------------------


async def test_after_three_quick_invocations_the_next_ones_run_on_the_loops_thread(
    start: Start,
) -> None:
    runtime = start(_function("quick"), inline=InlinePolicy(ROOMY))  # every thread run is quick
    threads = [(await _invoke(runtime, "quick"))["thread"] for _ in range(6)]
    assert threads == ["pizzabus-quick-1"] * 3 + ["MainThread"] * 3
    placement = runtime.placements()["quick"]
    assert placement.inline
    assert placement.thread_runs == 3
    assert placement.inline_runs == 3
    assert placement.demotions == 0


async def test_an_inline_invocation_runs_in_its_environment_its_stream_and_new_request(
    start: Start,
) -> None:
    runtime = start(_function("quick"), inline=InlinePolicy(ROOMY))
    on_thread = await _promote(runtime, "quick")
    first, second = await _invoke(runtime, "quick"), await _invoke(runtime, "quick")
    assert first["thread"] == second["thread"] == "MainThread"
    assert first["stream"] == second["stream"] == on_thread["stream"]  # the same environment
    assert len({on_thread["request_id"], first["request_id"], second["request_id"]}) == 3


async def test_two_functions_inline_each_see_their_own_value_of_the_same_variable(
    start: Start,
) -> None:
    runtime = start(
        _function("red", COLOUR="red"), _function("blue", COLOUR="blue"), inline=InlinePolicy(ROOMY)
    )
    await _promote(runtime, "red")
    await _promote(runtime, "blue")
    for _ in range(2):
        red, blue = await asyncio.gather(_invoke(runtime, "red"), _invoke(runtime, "blue"))
        assert (red["thread"], red["colour"]) == ("MainThread", "red")
        assert (blue["thread"], blue["colour"]) == ("MainThread", "blue")
    assert "COLOUR" not in os.environ  # the loop's own environment is untouched


async def test_variables_a_handler_sets_stay_in_its_environment_on_its_thread_and_inline(
    start: Start,
) -> None:
    runtime = start(_function("herbs"), inline=InlinePolicy(ROOMY))
    set_on_thread = await _invoke(runtime, "herbs", _event("setenv", value="basil"))
    assert set_on_thread["thread"] == "pizzabus-herbs-1"
    await _promote(runtime, "herbs")
    seen_inline = await _invoke(runtime, "herbs")
    assert (seen_inline["thread"], seen_inline["topping"]) == ("MainThread", "basil")
    set_inline = await _invoke(runtime, "herbs", _event("setenv", value="olive"))
    assert set_inline["thread"] == "MainThread"
    assert (await _invoke(runtime, "herbs"))["topping"] == "olive"
    assert os.environ.get("TOPPING") is None  # not the loop's, not the process's


async def test_what_an_inline_handler_prints_is_attributed_to_its_function_and_request(
    start: Start, capfd: pytest.CaptureFixture[str]
) -> None:
    runtime = start(_function("chatty"), inline=InlinePolicy(ROOMY))
    await _promote(runtime, "chatty")
    capfd.readouterr()
    result = await _invoke(runtime, "chatty", _event("print"))
    print("the loop, after the invocation")
    assert result["thread"] == "MainThread"
    lines = capfd.readouterr().out.splitlines()
    assert f"[chatty {result['request_id'][:8]}] oven hot" in lines
    assert "the loop, after the invocation" in lines  # the loop's own output is not attributed


@pytest.mark.parametrize(
    ("action", "error_type", "message", "reused"),
    [
        pytest.param("raise", "PizzaBurnt", "the oven was too hot", True, id="raises"),
        pytest.param(
            "not_json", "Runtime.MarshalError", "Unable to marshal response", True, id="not-json"
        ),
        pytest.param("exit", "Runtime.ExitError", "exit status 3", False, id="sys-exit"),
    ],
)
async def test_an_inline_invocation_fails_as_it_would_on_its_thread(
    start: Start, action: str, error_type: str, message: str, reused: bool
) -> None:
    runtime = start(_function("oven"), inline=InlinePolicy(ROOMY))
    on_thread = await _promote(runtime, "oven")
    with pytest.raises(FunctionError) as raised:
        await runtime.invoke("oven", _event(action))
    assert raised.value.error_type == error_type
    assert message in raised.value.message
    assert runtime.placements()["oven"].inline_runs == 1
    after = await _invoke(runtime, "oven")
    if reused:
        assert after["thread"] == "MainThread"
        assert after["stream"] == on_thread["stream"]
    else:  # the environment that exited is never used again: a fresh one, cold, on its thread
        assert after["thread"] == "pizzabus-oven-2"
        assert after["stream"] != on_thread["stream"]


async def test_a_handler_error_inline_carries_the_handlers_stack_trace(start: Start) -> None:
    runtime = start(_function("oven"), inline=InlinePolicy(ROOMY))
    await _promote(runtime, "oven")
    with pytest.raises(FunctionError) as raised:
        await runtime.invoke("oven", _event("raise"))
    assert any("lambda_handler" in line for line in raised.value.stack_trace)
    assert any("_act" in line for line in raised.value.stack_trace)


async def test_an_environment_that_exited_inline_lets_its_thread_go(start: Start) -> None:
    runtime = start(_function("oven"), inline=InlinePolicy(ROOMY))
    await _promote(runtime, "oven")
    with pytest.raises(FunctionError):
        await runtime.invoke("oven", _event("exit"))
    # A thread told to stop ends within a few ms; the test gives it half a second.
    await _until(
        lambda: not _alive("pizzabus-oven-1"), "the exited environment's thread ends", seconds=0.5
    )


async def test_a_handler_that_runs_its_own_event_loop_works_inline_too(start: Start) -> None:
    server_loop = asyncio.get_running_loop()
    runtime = start(_function("async_oven"), inline=InlinePolicy(ROOMY))
    threads = [await runtime.invoke("async_oven", _event("asyncio_run")) for _ in range(3)]
    assert threads == ["pizzabus-async_oven-1"] * 3
    assert runtime.placements()["async_oven"].inline
    # asyncio.run() inside the handler, on the loop's own thread: it must not see ours running.
    assert await runtime.invoke("async_oven", _event("asyncio_run")) == "MainThread"
    assert asyncio.get_running_loop() is server_loop  # and ours is running again after


# --- invoke_now: an inline invocation from a plain loop callback ---------------------------


async def test_invoke_now_runs_an_invocation_at_once_only_once_the_function_runs_inline(
    start: Start,
) -> None:
    runtime = start(_function("quick"), inline=InlinePolicy(ROOMY))
    assert runtime.invoke_now("quick", b"{}") is NOT_NOW  # not earned yet: invoke() does it
    on_thread = await _promote(runtime, "quick")
    now = runtime.invoke_now("quick", b"{}")
    assert (now["thread"], now["stream"]) == ("MainThread", on_thread["stream"])
    assert runtime.placements()["quick"].inline_runs == 1
    assert runtime.invoke_now("no_such_function", b"{}") is NOT_NOW  # invoke() says why


async def test_invoke_now_fails_and_times_out_as_invoke_does_inline(start: Start) -> None:
    runtime = start(_function("oven", timeout=0.3), inline=InlinePolicy(ROOMY))
    await _promote(runtime, "oven")
    with pytest.raises(FunctionError) as raised:
        runtime.invoke_now("oven", _event("raise"))
    assert raised.value.error_type == "PizzaBurnt"
    with pytest.raises(FunctionTimedOut):
        runtime.invoke_now("oven", _event("hang_spinning"))
    assert runtime.placements()["oven"].demotions == 1
    assert runtime.invoke_now("oven", b"{}") is NOT_NOW  # demoted: back to threads
    assert _alarm_disarmed()


async def test_invoke_now_leaves_a_function_a_fault_plan_names_to_invoke(start: Start) -> None:
    # invoke() draws the plan's faults; a rate of 0 still names the function.
    faults = FaultInjector(FaultPlan(functions={"quick": FunctionFault(error_rate=0.0)}))
    runtime = start(_function("quick"), inline=InlinePolicy(ROOMY), faults=faults)
    await _promote(runtime, "quick")
    assert runtime.invoke_now("quick", b"{}") is NOT_NOW
    assert (await _invoke(runtime, "quick"))["thread"] == "MainThread"


# --- timeouts inline --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hang",
    [
        pytest.param("hang_sleeping", id="sleeping"),
        pytest.param("hang_spinning", id="spinning"),
        pytest.param("hang_catching", id="catching-exception"),
    ],
)
async def test_an_inline_invocation_past_its_timeout_times_out_and_demotes_the_function(
    start: Start, hang: str
) -> None:
    runtime = start(_function("hang", timeout=0.3), inline=InlinePolicy(ROOMY))
    on_thread = await _promote(runtime, "hang")
    with pytest.raises(FunctionTimedOut) as raised:
        await runtime.invoke("hang", _event(hang))
    assert raised.value.error_type == "Sandbox.Timedout"
    assert raised.value.message.endswith("Task timed out after 0.30 seconds")
    placement = runtime.placements()["hang"]
    assert not placement.inline
    assert placement.demotions == 1
    assert placement.needed == 6
    assert _alarm_disarmed()
    # The environment that timed out is discarded: its thread ends and a fresh one serves next.
    await _until(lambda: not _alive("pizzabus-hang-1"), "the timed-out environment's thread ends")
    after = await _invoke(runtime, "hang")
    assert after["thread"] == "pizzabus-hang-2"
    assert after["stream"] != on_thread["stream"]


async def test_a_function_that_timed_out_inline_can_earn_inline_runs_back_with_timeouts(
    start: Start,
) -> None:
    runtime = start(_function("hang", timeout=0.3), inline=InlinePolicy(ROOMY))
    await _promote(runtime, "hang")
    with pytest.raises(FunctionTimedOut):
        await runtime.invoke("hang", _event("hang_spinning"))
    await _promote(runtime, "hang")  # six quick ones in a row this time
    assert runtime.placements()["hang"].thread_runs == 3 + 6
    assert (await _invoke(runtime, "hang"))["thread"] == "MainThread"
    with pytest.raises(FunctionTimedOut):
        await runtime.invoke("hang", _event("hang_sleeping"))
    placement = runtime.placements()["hang"]
    assert (placement.inline, placement.demotions, placement.needed) == (False, 2, 12)


async def test_other_functions_keep_running_inline_after_one_timed_out(start: Start) -> None:
    runtime = start(_function("hang", timeout=0.3), _function("quick"), inline=InlinePolicy(ROOMY))
    await _promote(runtime, "hang")
    await _promote(runtime, "quick")
    with pytest.raises(FunctionTimedOut):
        await runtime.invoke("hang", _event("hang_sleeping"))
    assert (await _invoke(runtime, "quick"))["thread"] == "MainThread"
    assert runtime.placements()["quick"].inline


def test_an_inline_timeout_holds_under_uvloop_which_serve_runs_on() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def scenario() -> tuple[str, str]:
        runtime = _runtime(_function("hang", timeout=0.3), inline=InlinePolicy(ROOMY))
        runtime.bind()
        try:
            await _promote(runtime, "hang")
            inline = (await _invoke(runtime, "hang"))["thread"]
            try:
                await runtime.invoke("hang", _event("hang_sleeping"))
            except FunctionTimedOut as timed_out:
                return inline, timed_out.error_type
            return inline, "returned"
        finally:
            runtime.close()

    assert uvloop.run(scenario()) == ("MainThread", "Sandbox.Timedout")


async def test_a_handler_that_swallows_the_timeouts_interrupt_still_times_out(
    start: Start,
) -> None:
    runtime = start(_function("stubborn", timeout=0.3), inline=InlinePolicy(ROOMY))
    await _promote(runtime, "stubborn")
    with pytest.raises(FunctionTimedOut):
        await runtime.invoke("stubborn", _event("swallow_timeout"))


async def test_an_inline_invocation_that_blocks_within_its_timeout_returns_and_demotes(
    start: Start,
) -> None:
    # The default budget (20 ms), but any thread run counts as quick.
    runtime = start(_function("sleepy"), inline=InlinePolicy(QUICK_THREADS))
    on_thread = await _promote(runtime, "sleepy")
    for _ in range(2):  # one slow run is forgiven; the second demotes
        slept = await _invoke(runtime, "sleepy", _event("sleep", seconds=0.05))
        assert slept["thread"] == "MainThread"
    placement = runtime.placements()["sleepy"]
    assert (placement.inline, placement.demotions, placement.needed) == (False, 1, 6)
    # Not discarded: the same environment takes the next invocation, on its own thread again.
    after = await _invoke(runtime, "sleepy")
    assert after["thread"] == "pizzabus-sleepy-1"
    assert after["stream"] == on_thread["stream"]


async def test_an_inline_invocation_that_computes_past_its_budget_returns_and_demotes(
    start: Start,
) -> None:
    runtime = start(_function("busy"), inline=InlinePolicy(QUICK_THREADS))
    await _promote(runtime, "busy")
    for _ in range(2):
        burnt = await _invoke(runtime, "busy", _event("burn", seconds=0.03))
        assert burnt["thread"] == "MainThread"
    placement = runtime.placements()["busy"]
    assert (placement.inline, placement.demotions) == (False, 1)
    assert (await _invoke(runtime, "busy"))["thread"] == "pizzabus-busy-1"


async def test_the_collectors_pauses_inside_an_inline_invocation_do_not_demote_it(
    start: Start,
) -> None:
    limits = InlineLimits(quick_cpu=1.0, quick_wall=10.0, inline_budget=0.2)
    # A long timeout: a failure guard, as a loaded machine makes each collection slow.
    runtime = start(_function("tidy", timeout=60.0), inline=InlinePolicy(limits))
    await _promote(runtime, "tidy")
    # 1 s of wall time, five times the budget, nearly all of it in gc.collect(): the rest stays
    # far below the budget even when the machine is loaded.
    collected = await _invoke(runtime, "tidy", _event("collect", seconds=1.0))
    assert collected["thread"] == "MainThread"
    placement = runtime.placements()["tidy"]
    assert (placement.inline, placement.demotions) == (True, 0)


async def test_other_threads_collections_do_not_hide_a_blocking_inline_invocation(
    start: Start,
) -> None:
    runtime = start(_function("sleepy", timeout=60.0), inline=InlinePolicy(QUICK_THREADS))
    await _promote(runtime, "sleepy")
    # The handler waits 100 ms on another thread (as on I/O) which spends it collecting.
    for _ in range(2):
        waited = await _invoke(
            runtime, "sleepy", _event("wait_while_another_thread_collects", seconds=0.1)
        )
        assert waited["thread"] == "MainThread"
    assert runtime.placements()["sleepy"].demotions == 1


async def test_a_thread_invocation_that_timed_out_breaks_the_streak(start: Start) -> None:
    runtime = start(_function("hang", timeout=0.3), inline=InlinePolicy(ROOMY))
    await _invoke(runtime, "hang")
    await _invoke(runtime, "hang")
    with pytest.raises(FunctionTimedOut):
        await runtime.invoke("hang", _event("hang_sleeping"))  # on its thread
    await _invoke(runtime, "hang")
    placement = runtime.placements()["hang"]
    assert placement.streak == 1
    assert not placement.inline


# --- where inline runs are not possible, or not wanted ----------------------------------------


async def _threads_of(runtime: FunctionRuntime, name: str, count: int = 6) -> list[str]:
    return [(await _invoke(runtime, name))["thread"] for _ in range(count)]


async def test_without_an_inline_policy_every_invocation_stays_on_its_thread(
    start: Start,
) -> None:
    runtime = start(_function("quick"), inline=None)
    assert await _threads_of(runtime, "quick") == ["pizzabus-quick-1"] * 6
    assert not runtime.placements()["quick"].inline
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL  # nothing to take it for


async def test_an_injected_clock_keeps_every_invocation_on_its_thread(start: Start) -> None:
    # Inline timeouts keep real time (SIGALRM); a ManualClock's timeouts need the thread.
    runtime = start(_function("quick"), inline=InlinePolicy(ROOMY), clock=ManualClock())
    assert await _threads_of(runtime, "quick") == ["pizzabus-quick-1"] * 6
    assert not runtime.placements()["quick"].inline


def test_a_runtime_bound_off_the_main_thread_keeps_every_invocation_on_its_thread() -> None:
    seen: list[list[str]] = []
    placements: list[Placement] = []

    async def scenario() -> None:
        runtime = _runtime(_function("quick"), inline=InlinePolicy(ROOMY))
        runtime.bind()  # on this thread's loop: SIGALRM's handler could never run here
        try:
            seen.append(await _threads_of(runtime, "quick"))
            placements.append(runtime.placements()["quick"])
        finally:
            runtime.close()

    thread = threading.Thread(target=asyncio.run, args=(scenario(),), name="embedding-app")
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    assert seen == [["pizzabus-quick-1"] * 6]
    assert not placements[0].inline
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL


async def test_a_runtime_leaves_someone_elses_alarm_alone_and_stays_on_threads(
    start: Start,
) -> None:
    def theirs(signum: int, frame: FrameType | None) -> None:
        pass

    signal.signal(signal.SIGALRM, theirs)
    runtime = start(_function("quick"), inline=InlinePolicy(ROOMY))
    assert await _threads_of(runtime, "quick") == ["pizzabus-quick-1"] * 6
    runtime.close()
    assert signal.getsignal(signal.SIGALRM) is theirs


async def test_closing_the_runtime_gives_sigalrm_and_the_gc_callback_back(start: Start) -> None:
    callbacks = list(gc.callbacks)
    runtime = start(_function("quick"), inline=InlinePolicy(ROOMY))
    assert signal.getsignal(signal.SIGALRM) != signal.SIG_DFL
    assert len(gc.callbacks) == len(callbacks) + 1
    runtime.close()
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL
    assert gc.callbacks == callbacks


NO_BIND_SCRIPT = """
    import asyncio, sys
    from datetime import timedelta
    from pathlib import Path
    from pizzabus.functions import FunctionRuntime, FunctionTimedOut
    from pizzabus.functions.inline import InlinePolicy
    from pizzabus.system import Function

    async def main():
        function = Function(name="hang", code_dir=Path(sys.argv[1]),
                            handler="probe.lambda_handler", timeout=timedelta(seconds=0.3))
        runtime = FunctionRuntime((function,), overrides=lambda f: {},
                                  resolve_endpoint=lambda e: "", inline=InlinePolicy())
        # runtime.bind() forgotten: SIGALRM has no handler of the runtime's
        for _ in range(4):
            await runtime.invoke("hang", b"{}")
        try:
            await runtime.invoke("hang", b'{"do": "hang_sleeping"}')
        except FunctionTimedOut as timed_out:
            print(timed_out.error_type)
        runtime.close()

    asyncio.run(main())
"""


def test_a_runtime_that_was_never_bound_does_not_run_inline(tmp_path: Path) -> None:
    script = tmp_path / "unbound.py"
    script.write_text(textwrap.dedent(NO_BIND_SCRIPT))
    ran = subprocess.run(
        [sys.executable, str(script), str(CODE)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (ran.returncode, ran.stdout.strip()) == (0, "Sandbox.Timedout"), ran.stderr


# --- the embedded system and the CLI ---------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "after_three"),
    [
        pytest.param(Settings(data_dir=None), "MainThread", id="inline-by-default"),
        pytest.param(
            Settings(data_dir=None, inline=False), "pizzabus-quick-1", id="inline-false-threads"
        ),
    ],
)
async def test_an_embedded_system_runs_inline_unless_its_settings_say_not_to(
    settings: Settings, after_three: str
) -> None:
    definition = SystemDefinition(name="inline-lab", buses=(), functions=(_function("quick"),))
    system = EmbeddedSystem(definition, settings)
    async with system.running():
        threads = await _threads_of(system.runtime, "quick", count=3)
        # The default limits count a run as quick by its time: on a loaded machine a run may
        # not be, and the streak starts again. So invoke until the policy has decided.
        for _ in range(50):
            if system.runtime.placements()["quick"].inline:
                break
            threads.append((await _invoke(system.runtime, "quick"))["thread"])
        threads.append((await _invoke(system.runtime, "quick"))["thread"])
        placement = system.runtime.placements()["quick"]
    assert threads[:3] == ["pizzabus-quick-1"] * 3  # never inline before three quick runs
    assert threads[-1] == after_three
    assert placement.inline is settings.inline
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL  # stopped, it gave SIGALRM back


async def test_an_inline_handlers_put_events_is_delivered_to_the_rules_target() -> None:
    # PutEvents from a handler on the loop's own thread: the deliveries it starts must still
    # run (they need the loop, which the handler must not see as running).
    publisher = Function(
        name="publisher",
        code_dir=CODE,
        handler="publisher.lambda_handler",
        environment={"EVENT_BUS": "orders"},
        grants=(Grant("events:PutEvents", "orders"),),
    )
    bus = EventBus(
        name="orders",
        rules=(
            Rule(
                name="to_sink",
                event_pattern={"source": ["inline.publisher"]},
                targets=(Target("sink"),),
            ),
        ),
    )
    definition = SystemDefinition(
        name="inline-lab", buses=(bus,), functions=(publisher, _function("sink"))
    )
    system = EmbeddedSystem(definition, Settings(data_dir=None))
    async with system.running():
        threads = [await system.runtime.invoke("publisher", _event(n=n)) for n in range(3)]
        while not system.runtime.placements()["publisher"].inline and len(threads) < 50:
            threads.append(await system.runtime.invoke("publisher", _event(n=len(threads))))
        threads.append(await system.runtime.invoke("publisher", _event(n=len(threads))))
        await system.deliverer.drain()
        stats = system.deliverer.stats
    assert threads[:3] == ["pizzabus-publisher-1"] * 3
    assert threads[-1] == "MainThread"  # this put ran on the loop's own thread
    assert (stats.succeeded, stats.failed_attempts) == (len(threads), 0)
    assert stats.by_target == {"sink": len(threads)}


def test_serve_offers_isolate() -> None:
    result = CliRunner().invoke(serve_module.serve, ["--help"])
    assert result.exit_code == 0
    assert "--isolate" in result.output
    assert "never inline" in result.output


@pytest.mark.parametrize(
    ("flags", "inline"),
    [
        pytest.param([], True, id="default-inline"),
        pytest.param(["--isolate"], False, id="isolate-keeps-threads"),
    ],
)
def test_serve_isolate_turns_inline_runs_off(
    monkeypatch: pytest.MonkeyPatch, flags: list[str], inline: bool
) -> None:
    built: list[Settings] = []

    def settings_only(
        definition: SystemDefinition, settings: Settings, distribution: object = None
    ) -> EmbeddedSystem:
        """Records what serve would run, then stops it before it serves anything."""
        built.append(settings)
        raise PizzabusError("stopped by the test before serving")

    monkeypatch.setattr(serve_module, "open_runtime", settings_only)
    result = CliRunner().invoke(serve_module.serve, ["--memory", "--port", "0", *flags])
    assert result.exit_code == 1, result.output
    assert "stopped by the test before serving" in result.output
    assert [s.inline for s in built] == [inline]
