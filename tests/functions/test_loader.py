"""Loading a handler's code into an execution environment (:mod:`pizzabus.functions.loader`):
each environment gets modules of its own, and one compiled code object per version of a file."""

from __future__ import annotations

import types
from pathlib import Path

from pizzabus.functions.loader import CodeNamespace

COUNTER = """
calls = 0


def handler(event, context):
    global calls
    calls += 1
    return calls
"""


def _namespace(code_dir: Path) -> CodeNamespace:
    return CodeNamespace(code_dir, {})


def test_environments_share_the_compiled_code_but_not_the_modules_state(tmp_path: Path) -> None:
    (tmp_path / "counter.py").write_text(COUNTER)
    first, second = _namespace(tmp_path), _namespace(tmp_path)
    one, other = first.handler("counter", "handler"), second.handler("counter", "handler")
    assert one.__code__ is other.__code__  # compiled once
    assert first.modules["counter"] is not second.modules["counter"]
    assert [one(None, None), one(None, None), other(None, None)] == [1, 2, 1]


def test_a_file_saved_again_at_once_loads_its_new_code(tmp_path: Path) -> None:
    # Same size, and within one tick of the file system's clock: only the source tells.
    source = tmp_path / "answer.py"
    source.write_text("def handler(event, context):\n    return 1\n")
    before = _namespace(tmp_path).handler("answer", "handler")
    source.write_text("def handler(event, context):\n    return 2\n")
    after = _namespace(tmp_path).handler("answer", "handler")
    assert (before(None, None), after(None, None)) == (1, 2)


def test_each_load_of_a_namespace_runs_the_module_once(tmp_path: Path) -> None:
    (tmp_path / "counter.py").write_text(COUNTER)
    namespace = _namespace(tmp_path)
    module = namespace.load("counter")
    assert isinstance(module, types.ModuleType)
    assert namespace.load("counter") is module
