"""Discarding a function's warm environments: the next invocation loads its code afresh."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pizzabus.embedded.reload import CodeWatcher
from pizzabus.functions.errors import FunctionError
from pizzabus.functions.runtime import FunctionRuntime, RuntimeIdentity
from pizzabus.system import Function

HANDLER = "def lambda_handler(event, context):\n    return {edition!r}\n"


def _runtime(folder: Path) -> FunctionRuntime:
    functions = (
        Function("edited", folder, "edited.lambda_handler"),
        Function("other", folder, "other.lambda_handler"),
    )
    return FunctionRuntime(
        functions,
        overrides=lambda f: {},
        resolve_endpoint=lambda e: "",
        identity=RuntimeIdentity(),
    )


async def test_a_discarded_function_runs_its_new_code_and_a_syntax_error_is_lambdas(
    tmp_path: Path,
) -> None:
    (tmp_path / "edited.py").write_text(HANDLER.format(edition="first"))
    (tmp_path / "other.py").write_text(HANDLER.format(edition="other"))
    runtime = _runtime(tmp_path)
    try:
        assert await runtime.invoke("edited", b"{}") == "first"
        (tmp_path / "edited.py").write_text(HANDLER.format(edition="second"))
        assert await runtime.invoke("edited", b"{}") == "first"  # still warm
        watcher = CodeWatcher(runtime_functions(tmp_path), runtime.discard)
        assert watcher.reload([str(tmp_path / "edited.py")]) == ["edited", "other"]
        assert await runtime.invoke("edited", b"{}") == "second"

        (tmp_path / "edited.py").write_text("def lambda_handler(event, context:\n")
        watcher.reload([str(tmp_path / "edited.py")])
        with pytest.raises(FunctionError) as failed:
            await runtime.invoke("edited", b"{}")
        assert failed.value.error_type == "Runtime.UserCodeSyntaxError"
        (tmp_path / "edited.py").write_text(HANDLER.format(edition="fixed"))
        watcher.reload([str(tmp_path / "edited.py")])
        assert await runtime.invoke("edited", b"{}") == "fixed"
        assert watcher.reloads == 3
    finally:
        runtime.close()


async def test_a_busy_environment_finishes_then_goes(tmp_path: Path) -> None:
    (tmp_path / "edited.py").write_text(
        "import time\ndef lambda_handler(event, context):\n    time.sleep(0.2)\n    return 1\n"
    )
    (tmp_path / "other.py").write_text(HANDLER.format(edition="other"))
    runtime = _runtime(tmp_path)
    try:
        assert await runtime.invoke("edited", b"{}") == 1  # warm: the code is loaded
        running = asyncio.ensure_future(runtime.invoke("edited", b"{}"))
        while runtime.concurrency()["edited"] == 0:
            await asyncio.sleep(0)
        (tmp_path / "edited.py").write_text(HANDLER.format(edition="new"))
        runtime.discard(["edited"])
        assert await running == 1  # the invocation under way finishes on the old code
        assert await runtime.invoke("edited", b"{}") == "new"
    finally:
        runtime.close()


def test_changes_outside_the_code_folders_reload_nothing(tmp_path: Path) -> None:
    discarded: list[list[str]] = []
    watcher = CodeWatcher(runtime_functions(tmp_path), lambda names: discarded.append(names) or 0)
    assert watcher.reload(["/somewhere/else.py"]) == []
    assert discarded == []


def runtime_functions(folder: Path) -> tuple[Function, ...]:
    return (
        Function("edited", folder, "edited.lambda_handler"),
        Function("other", folder, "other.lambda_handler"),
    )
