"""Loading a handler's code into one execution environment.

On Lambda every execution environment is a fresh process: the handler's folder is on
``sys.path``, its modules are imported once per environment, and ``import boto3`` is the SDK.
:class:`CodeNamespace` gives a thread the same view inside this process: the modules of the
code folder are executed afresh for it (so their module-level state is its own), and the names
in ``overrides`` (``boto3``) resolve to the runtime's stand-ins. Everything else is imported as
usual and shared.
"""

from __future__ import annotations

import builtins
import functools
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pizzabus.functions.errors import FunctionError

_real_import = builtins.__import__


@functools.lru_cache(maxsize=128)
def _compiled(source: bytes, filename: str) -> types.CodeType:
    """The code of one version of a handler's file, compiled once and shared by every
    environment that loads it: a code object is immutable, and each environment still runs it
    into a module of its own. Keyed by the source itself, so a saved file compiles anew
    (hot reload) even within one tick of the file system's clock. Compiling ``orders.py``
    afresh took most of a cold start's memory (about 33 of 47 KB an environment), and its
    CPU came when a burst was creating environments."""
    return compile(source, filename, "exec")


class CodeNamespace:
    """The modules one execution environment has imported from its code folder."""

    def __init__(self, code_dir: Path, overrides: Mapping[str, types.ModuleType]) -> None:
        self.code_dir = code_dir
        self.overrides = dict(overrides)
        self.modules: dict[str, types.ModuleType] = {}
        self._builtins = dict(vars(builtins), __import__=self._import)

    def load(self, name: str) -> types.ModuleType:
        """The module ``name`` of the code folder, executed once in this namespace."""
        module = self.modules.get(name)
        if module is not None:
            return module
        path = self.code_dir / f"{name}.py"
        module = types.ModuleType(name)
        module.__file__ = str(path)
        module.__dict__["__builtins__"] = self._builtins
        self.modules[name] = module
        try:
            exec(_compiled(path.read_bytes(), str(path)), module.__dict__)
        except BaseException:
            del self.modules[name]
            raise
        return module

    def handler(self, module_name: str, attribute: str) -> Callable[..., Any]:
        """The handler function, as Lambda resolves ``module.attribute``; Lambda's error types
        when it cannot be found."""
        if not (self.code_dir / f"{module_name}.py").is_file():
            raise FunctionError(
                "Runtime.ImportModuleError",
                f"Unable to import module '{module_name}': No module named '{module_name}'",
            )
        try:
            module = self.load(module_name)
        except ImportError as error:
            raise FunctionError(
                "Runtime.ImportModuleError",
                f"Unable to import module '{module_name}': {error}",
            ) from error
        except SyntaxError as error:
            raise FunctionError(
                "Runtime.UserCodeSyntaxError",
                f"Syntax error in module '{module_name}': {error}",
            ) from error
        handler: Callable[..., Any] | None = getattr(module, attribute, None)
        if not callable(handler):
            raise FunctionError(
                "Runtime.HandlerNotFound",
                f"Handler '{attribute}' missing on module '{module_name}'",
            )
        return handler

    def _import(
        self,
        name: str,
        globals: Mapping[str, object] | None = None,
        locals: Mapping[str, object] | None = None,
        fromlist: Sequence[str] | None = (),
        level: int = 0,
    ) -> types.ModuleType:
        top, _, rest = name.partition(".")
        if level == 0 and top in self.overrides:
            if not rest or not fromlist:
                return self.overrides[top]
            # `from boto3.dynamodb.conditions import Key`: the real, pure-Python submodule.
            return _real_import(name, globals, locals, fromlist, level)
        if (
            level == 0
            and not rest
            and top not in sys.builtin_module_names
            and (self.code_dir / f"{top}.py").is_file()
        ):
            return self.load(top)
        return _real_import(name, globals, locals, fromlist, level)
