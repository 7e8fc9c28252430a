"""The function runtime runs handlers as Lambda does: own environment, context, timeout,
concurrency, and failures that stay inside the invocation."""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
import types
from datetime import timedelta
from pathlib import Path

import pytest

from pizzabus.clock import ManualClock
from pizzabus.functions import FunctionError, FunctionRuntime, FunctionTimedOut
from pizzabus.system import Function


def _code(tmp_path: Path, files: dict[str, str]) -> Path:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    for name, source in files.items():
        (code / name).write_text(textwrap.dedent(source))
    return code


def _runtime(*functions: Function, clock: ManualClock | None = None) -> FunctionRuntime:
    fake_boto3 = types.ModuleType("boto3")
    fake_boto3.__dict__["marker"] = "pizzabus-test-boto3"
    return FunctionRuntime(
        functions,
        overrides=lambda function: {"boto3": fake_boto3},
        resolve_endpoint=lambda endpoint: "http://127.0.0.1:1/production",
        clock=clock,
    )


def _payload(event: object) -> bytes:
    return json.dumps(event).encode()


HANDLERS = {
    "echo_env.py": """
        import os
        AT_IMPORT = os.environ.get("COLOUR")
        def lambda_handler(event, context):
            name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
            return {"import": AT_IMPORT, "call": os.getenv("COLOUR"), "name": name}
    """,
    "fail.py": """
        class PizzaBurnt(Exception):
            pass
        def lambda_handler(event, context):
            raise PizzaBurnt("the oven was too hot")
    """,
    "exits.py": """
        import sys
        def lambda_handler(event, context):
            sys.exit(3)
    """,
    "hang.py": """
        def lambda_handler(event, context):
            while True:
                pass
    """,
    "context_info.py": """
        def lambda_handler(event, context):
            return {
                "function_name": context.function_name,
                "aws_request_id": context.aws_request_id,
                "invoked_function_arn": context.invoked_function_arn,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "log_group_name": context.log_group_name,
                "log_stream_name": context.log_stream_name,
                "remaining": context.get_remaining_time_in_millis(),
            }
    """,
    "mutate.py": """
        def lambda_handler(event, context):
            event["detail"]["touched"] = True
            return event
    """,
    "not_json.py": """
        def lambda_handler(event, context):
            return object()
    """,
    "uses_boto3.py": """
        import boto3
        import helper
        def lambda_handler(event, context):
            return [boto3.marker, helper.boto3_marker()]
    """,
    "helper.py": """
        import boto3
        def boto3_marker():
            return boto3.marker
    """,
    "broken_import.py": """
        import no_such_module_anywhere
        def lambda_handler(event, context):
            return 1
    """,
    "probe_concurrency.py": """
        import time
        import concurrency_probe
        def lambda_handler(event, context):
            with concurrency_probe.running():
                time.sleep(0.05)
    """,
}


@pytest.fixture
def code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "concurrency_probe.py").write_text(
        textwrap.dedent(
            """
            import contextlib, threading
            lock = threading.Lock()
            now = 0
            peak = 0
            @contextlib.contextmanager
            def running():
                global now, peak
                with lock:
                    now += 1
                    peak = max(peak, now)
                try:
                    yield
                finally:
                    with lock:
                        now -= 1
            """
        )
    )
    monkeypatch.syspath_prepend(str(shared))
    return _code(tmp_path, HANDLERS)


def fn(code: Path, name: str, module: str, **kwargs: object) -> Function:
    return Function(name=name, code_dir=code, handler=f"{module}.lambda_handler", **kwargs)  # type: ignore[arg-type]


async def test_two_functions_see_their_own_value_of_the_same_variable(code: Path) -> None:
    runtime = _runtime(
        fn(code, "red", "echo_env", environment={"COLOUR": "red"}),
        fn(code, "blue", "echo_env", environment={"COLOUR": "blue"}),
    )
    red, blue = await asyncio.gather(runtime.invoke("red", b"{}"), runtime.invoke("blue", b"{}"))
    assert red == {"import": "red", "call": "red", "name": "red"}
    assert blue == {"import": "blue", "call": "blue", "name": "blue"}
    assert os.environ.get("COLOUR") is None  # the process's own environment is untouched
    runtime.close()


async def test_a_handler_that_raises_fails_the_invocation_with_its_error_type(code: Path) -> None:
    runtime = _runtime(fn(code, "fail", "fail"))
    with pytest.raises(FunctionError) as raised:
        await runtime.invoke("fail", b"{}")
    assert raised.value.error_type == "PizzaBurnt"
    assert raised.value.message == "the oven was too hot"
    assert any("lambda_handler" in line for line in raised.value.stack_trace)
    # As Lambda's, the trace starts in the handler's file, not in the runtime that called it.
    assert raised.value.stack_trace[0].lstrip().startswith(f'File "{code}')
    runtime.close()


async def test_sys_exit_in_a_handler_fails_only_that_invocation(code: Path) -> None:
    runtime = _runtime(fn(code, "exits", "exits"), fn(code, "ctx", "context_info"))
    for _ in range(2):  # the environment that exited is replaced by a fresh one
        with pytest.raises(FunctionError) as raised:
            await runtime.invoke("exits", b"{}")
        assert raised.value.error_type == "Runtime.ExitError"
        assert "exit status 3" in raised.value.message
    assert (await runtime.invoke("ctx", b"{}"))["function_name"] == "ctx"
    runtime.close()


async def test_a_handler_past_its_timeout_fails_with_task_timed_out_and_the_loop_stays_free(
    code: Path,
) -> None:
    runtime = _runtime(fn(code, "hang", "hang", timeout=timedelta(seconds=2)))
    invocation = asyncio.create_task(runtime.invoke("hang", b"{}"))
    # The loop keeps turning while the handler spins: five turns happen before its timeout.
    ticks = 0
    while ticks < 5 and not invocation.done():
        await asyncio.sleep(0.01)
        ticks += 1
    assert not invocation.done()
    with pytest.raises(FunctionTimedOut) as raised:
        await invocation
    assert raised.value.error_type == "Sandbox.Timedout"
    assert raised.value.message.endswith("Task timed out after 2.00 seconds")
    runtime.close()


async def test_timeouts_follow_the_injected_clock(code: Path) -> None:
    clock = ManualClock()
    runtime = _runtime(fn(code, "hang", "hang", timeout=timedelta(seconds=900)), clock=clock)
    invocation = asyncio.create_task(runtime.invoke("hang", b"{}"))
    while clock.pending_sleepers == 0:
        await asyncio.sleep(0.001)
    assert not invocation.done()
    await clock.advance(900)
    with pytest.raises(FunctionTimedOut, match=r"after 900\.00 seconds"):
        await invocation
    runtime.close()


async def test_the_context_has_lambdas_attributes(code: Path) -> None:
    runtime = _runtime(fn(code, "ctx", "context_info", memory_mb=256))
    first = await runtime.invoke("ctx", b"{}")
    second = await runtime.invoke("ctx", b"{}")
    assert first["function_name"] == "ctx"
    assert first["invoked_function_arn"] == "arn:aws:lambda:us-east-1:000000000000:function:ctx"
    assert first["memory_limit_in_mb"] == "256"
    assert first["log_group_name"] == "/aws/lambda/ctx"
    assert "[$LATEST]" in first["log_stream_name"]
    assert 0 < first["remaining"] <= 3000
    assert first["aws_request_id"] != second["aws_request_id"]
    runtime.close()


async def test_each_invocation_gets_its_own_copy_of_the_event(code: Path) -> None:
    runtime = _runtime(fn(code, "mutate", "mutate"))
    payload = _payload({"detail": {"item": 1}})
    first = await runtime.invoke("mutate", payload)
    assert first["detail"]["touched"] is True
    assert json.loads(payload) == {"detail": {"item": 1}}
    runtime.close()


async def test_a_result_that_is_not_json_fails_with_a_marshal_error(code: Path) -> None:
    runtime = _runtime(fn(code, "nj", "not_json"))
    with pytest.raises(FunctionError) as raised:
        await runtime.invoke("nj", b"{}")
    assert raised.value.error_type == "Runtime.MarshalError"
    runtime.close()


async def test_handler_modules_and_their_siblings_import_the_runtimes_boto3(code: Path) -> None:
    runtime = _runtime(fn(code, "b", "uses_boto3"))
    assert await runtime.invoke("b", b"{}") == ["pizzabus-test-boto3", "pizzabus-test-boto3"]
    runtime.close()


async def test_a_module_that_cannot_be_imported_is_an_import_module_error(code: Path) -> None:
    runtime = _runtime(fn(code, "broken", "broken_import"))
    with pytest.raises(FunctionError) as raised:
        await runtime.invoke("broken", b"{}")
    assert raised.value.error_type == "Runtime.ImportModuleError"
    assert "no_such_module_anywhere" in raised.value.message
    runtime.close()


async def test_reserved_concurrency_bounds_simultaneous_invocations(code: Path) -> None:
    import concurrency_probe  # type: ignore[import-not-found]

    runtime = _runtime(fn(code, "probe", "probe_concurrency", reserved_concurrency=2))
    await asyncio.gather(*(runtime.invoke("probe", b"{}") for _ in range(8)))
    assert concurrency_probe.peak == 2
    runtime.close()


async def test_an_unknown_function_is_resource_not_found(code: Path) -> None:
    runtime = _runtime(fn(code, "ctx", "context_info"))
    with pytest.raises(Exception, match="Function not found"):
        await runtime.invoke("nope", b"{}")
    runtime.close()


async def test_what_a_handler_prints_is_attributed_to_its_function_and_request(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code = _code(
        tmp_path,
        {"chatty.py": "def lambda_handler(event, context):\n    print('oven hot')\n    return 1\n"},
    )
    runtime = _runtime(fn(code, "chatty", "chatty"))
    await runtime.invoke("chatty", b"{}")
    runtime.close()
    out = capfd.readouterr().out
    assert "[chatty " in out
    assert "] oven hot" in out
