"""Finding a system definition by name: ``module:attribute``, as ``--system`` takes it.

One loader for every command that reads a definition (``serve``, ``synth``, ``deploy`` and the
CDK app). The module is imported with the current directory first on ``sys.path``, as uvicorn's
``--app-dir`` does, so ``pizzabus serve --system signups.system:SYSTEM`` run next to
``signups/`` works without ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path

from pizzabus.errors import DefinitionError
from pizzabus.system.model import SystemDefinition

#: The pizza lab, served when no ``--system`` is given.
DEFAULT_SYSTEM = "pizzabus.pizza.system:SYSTEM"
#: The attribute read when the reference names a module only.
DEFAULT_ATTRIBUTE = "SYSTEM"


def load_definition(reference: str, *, app_dir: Path | None = None) -> SystemDefinition:
    """Import ``module:attribute`` (``attribute`` defaults to ``SYSTEM``) from ``app_dir``
    (default: the current directory) and check that it is a :class:`SystemDefinition`.

    Raises :class:`DefinitionError` saying what is wrong and how to fix it."""
    module_name, _, attribute = reference.strip().partition(":")
    attribute = attribute or DEFAULT_ATTRIBUTE
    if not module_name or not all(part.isidentifier() for part in module_name.split(".")):
        raise DefinitionError(
            f"--system {reference!r} is not module:attribute; name it like "
            f"signups.system:SYSTEM (the default is {DEFAULT_SYSTEM})"
        )
    directory = (app_dir or Path.cwd()).resolve()
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    module = _import(module_name, directory)
    try:
        definition = getattr(module, attribute)
    except AttributeError:
        found = [
            name for name, value in vars(module).items() if isinstance(value, SystemDefinition)
        ]
        hint = (
            f"it defines {', '.join(f'{module_name}:{name}' for name in found)}"
            if found
            else "it defines no SystemDefinition"
        )
        raise DefinitionError(
            f"module {module_name!r} ({_origin(module)}) has no attribute {attribute!r}; {hint}"
        ) from None
    if not isinstance(definition, SystemDefinition):
        raise DefinitionError(
            f"{module_name}:{attribute} is a {type(definition).__name__}, not a SystemDefinition"
        )
    return definition


def _import(module_name: str, directory: Path) -> object:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or module_name
        if module_name == missing or module_name.startswith(f"{missing}."):
            raise DefinitionError(
                f"cannot import {module_name!r}: no module named {missing!r} in {directory} or "
                f"on the Python path; run pizzabus from the folder that holds "
                f"{missing.split('.')[0]}/ (or {missing.split('.')[0]}.py)"
            ) from None
        raise DefinitionError(
            f"importing {module_name!r} failed: it imports {missing!r}, which is not installed"
        ) from None
    except DefinitionError as error:
        raise DefinitionError(f"{module_name!r} defines a bad system: {error.message}") from None
    except Exception as error:
        raise DefinitionError(
            f"importing {module_name!r} failed: {type(error).__name__}: {error}{_where(error)}"
        ) from None


def _where(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    if isinstance(error, SyntaxError) or not frames:
        return ""
    last = frames[-1]
    return f" ({last.filename}, line {last.lineno})"


def _origin(module: object) -> str:
    return str(getattr(module, "__file__", None) or getattr(module, "__name__", "?"))
