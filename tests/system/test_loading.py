"""``--system module:attribute`` finds a definition in the current directory, or says why not."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pizzabus.errors import DefinitionError
from pizzabus.system.loading import load_definition

DEFINITION = """
from pathlib import Path
from pizzabus.system import EventBus, Function, SystemDefinition

SYSTEM = SystemDefinition(
    name="{name}",
    buses=(EventBus("b"),),
    functions=(Function("f", Path(__file__).parent, "handler.lambda_handler"),),
)
NOT_A_SYSTEM = {{"name": "x"}}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder holding a package ``mysys_<n>`` with a definition, as the current directory."""
    name = f"mysys_{tmp_path.name.replace('-', '_')}"
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "system.py").write_text(DEFINITION.format(name=name))
    (package / "handler.py").write_text("def lambda_handler(event, context):\n    return 1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield package
    for module in [m for m in sys.modules if m.startswith(name)]:
        del sys.modules[module]


def test_a_definition_is_imported_from_the_current_directory(project: Path) -> None:
    definition = load_definition(f"{project.name}.system:SYSTEM")
    assert definition.name == project.name


def test_the_attribute_defaults_to_system(project: Path) -> None:
    assert load_definition(f"{project.name}.system").name == project.name


def test_a_missing_attribute_is_named_with_the_definitions_the_module_has(project: Path) -> None:
    with pytest.raises(DefinitionError) as raised:
        load_definition(f"{project.name}.system:NOPE")
    assert "has no attribute 'NOPE'" in raised.value.message
    assert f"it defines {project.name}.system:SYSTEM" in raised.value.message


def test_an_attribute_that_is_not_a_definition_says_what_it_is(project: Path) -> None:
    with pytest.raises(DefinitionError, match="is a dict, not a SystemDefinition"):
        load_definition(f"{project.name}.system:NOT_A_SYSTEM")


def test_a_missing_module_says_where_it_looked_and_where_to_run_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(DefinitionError) as raised:
        load_definition("signups_nowhere.system:SYSTEM")
    message = raised.value.message
    assert "no module named 'signups_nowhere'" in message
    assert str(tmp_path.resolve()) in message
    assert "run pizzabus from the folder that holds signups_nowhere/" in message


def test_a_module_that_fails_on_import_says_how_and_where(project: Path) -> None:
    (project / "broken.py").write_text("x = 1\nraise RuntimeError('no config')\n")
    with pytest.raises(DefinitionError) as raised:
        load_definition(f"{project.name}.broken:SYSTEM")
    assert "RuntimeError: no config" in raised.value.message
    assert "broken.py, line 2" in raised.value.message


@pytest.mark.parametrize("reference", ["", "not a module", "a-b.c:SYSTEM"])
def test_a_reference_that_is_not_module_attribute_is_refused(reference: str) -> None:
    with pytest.raises(DefinitionError, match="is not module:attribute"):
        load_definition(reference)
