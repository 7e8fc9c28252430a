"""The layer rule: a package imports only the layers below it, never the one above.

The order, lowest first, is the direction data flows through the system (README,
"Architecture"); the pattern engine stays pure (no asyncio, no I/O), and the runtime knows
nothing about the pizza application.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "pizzabus"

#: What each package may import from pizzabus (besides itself).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "clock": set(),
    "loop": set(),
    "access": {"errors", "clock"},
    "system": {"errors"},
    # The seams: records and Protocols the layers above share (no I/O, no backend).
    "contracts": {"errors", "system"},
    "patterns": {"errors"},
    "tables": {"errors", "system"},
    "telemetry": {"errors", "clock"},
    "functions": {"errors", "clock", "system", "contracts", "telemetry"},
    "bus": {"errors", "clock", "loop", "system", "contracts", "patterns", "functions", "telemetry"},
    "sdk": {"errors", "clock", "system", "contracts", "functions", "tables", "telemetry"},
    "gateway": {
        "errors",
        "clock",
        "loop",
        "system",
        "contracts",
        "functions",
        "bus",
        "access",
        "telemetry",
    },
    # AWS's own APIs over a running system's parts (any runtime mounts them).
    "awsapi": {
        "errors",
        "clock",
        "access",
        "system",
        "contracts",
        "patterns",
        "tables",
        "functions",
        "bus",
        "sdk",
    },
    "embedded": {
        "access",
        "awsapi",
        "telemetry",
        "errors",
        "clock",
        "loop",
        "system",
        "contracts",
        "patterns",
        "tables",
        "functions",
        "bus",
        "sdk",
        "gateway",
    },
    # Local servers for development and tests (nats-server, PostgreSQL).
    "devservers": {"errors"},
    # The distributed runtime: the same parts as embedded, composed over NATS JetStream.
    "distributed": {
        "errors",
        "clock",
        "loop",
        "system",
        "contracts",
        "patterns",
        "tables",
        "functions",
        "bus",
        "sdk",
        "gateway",
        "awsapi",
        "embedded",
        "devservers",
        "telemetry",
    },
    # The one place that chooses a runtime.
    "compose": {"errors", "system", "contracts", "embedded", "distributed"},
    "pizza": {"system"},
    "aws": {"errors", "system", "pizza"},
    "cli": {
        "access",
        "telemetry",
        "errors",
        "clock",
        "loop",
        "system",
        "patterns",
        "tables",
        "functions",
        "bus",
        "sdk",
        "gateway",
        "embedded",
        "awsapi",
        "contracts",
        "devservers",
        "distributed",
        "compose",
        "aws",
        "cli",
        "pizza",
    },
}


def _layer(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


MODULES = sorted(
    p for p in PACKAGE.rglob("*.py") if p.name != "__main__.py" and _layer(p) in ALLOWED
)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_only_the_layers_below_it(path: Path) -> None:
    layer = _layer(path)
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] != "pizzabus" or len(parts) < 2:
            continue
        target = parts[1]
        assert target == layer or target in ALLOWED[layer], (
            f"{path.relative_to(PACKAGE)} ({layer}) imports {name}: {layer} may import only "
            f"{sorted(ALLOWED[layer])}"
        )


def test_the_pattern_engine_is_pure() -> None:
    for path in (PACKAGE / "patterns").rglob("*.py"):
        impure = _imports(path) & {"asyncio", "socket", "subprocess", "sqlite3", "io", "os"}
        assert not impure, f"{path.name} imports {impure}: the pattern engine does no I/O"


def test_the_runtime_knows_nothing_about_pizzas() -> None:
    # Only the application, and the two places that name it as the default, may import it.
    for path in MODULES:
        if _layer(path) not in {"pizza", "cli", "aws"}:
            assert not any(n.startswith("pizzabus.pizza") for n in _imports(path)), path
    runtime = [
        p
        for p in PACKAGE.rglob("*")
        if p.is_file()
        and _layer(p) not in {"pizza", "cli", "aws"}
        and p.suffix in {".py", ".html", ".js", ".css"}
    ]
    for path in runtime:
        code = [
            line
            for line in path.read_text().splitlines()
            if not line.strip().startswith(("#", '"', "-", "'"))
        ]
        assert not any("make_pizza" in line or "order_id" in line for line in code), path


def test_every_package_is_in_the_layer_map() -> None:
    packages = {
        _layer(p) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE
    }
    packages.discard("__main__")
    assert packages <= set(ALLOWED) | {"__init__"}, packages - set(ALLOWED)
