"""What a newcomer reads and runs first: the README stands on its own, the guide covers the
whole model, and `make run` installs only what running needs."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from pizzabus.system import model
from tests.e2e.server import as_from_a_terminal

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
GUIDE = (REPO / "docs" / "your-own-system.md").read_text(encoding="utf-8")


def test_the_readme_says_how_to_run_the_cli_installed_in_the_venv() -> None:
    assert ".venv/bin/pizzabus" in README
    assert "source .venv/bin/activate" in README


@pytest.mark.parametrize(
    "outside",
    [r"\.\./", r"DESIGN\s*§", r"DESIGN\.md", r"shared/seed", r"lab\.txt"],
)
def test_the_readme_points_at_nothing_outside_the_repository(outside: str) -> None:
    assert re.search(outside, README) is None


def test_the_readme_describes_the_lab_and_points_at_the_guide() -> None:
    for words in ("EventBridge", "make_pizza", "receive_events", "docs/your-own-system.md"):
        assert words in README
    assert "24 hours" in README
    assert "--max-retry-attempts" in README


MODEL_CLASSES = [
    value
    for value in vars(model).values()
    if isinstance(value, type)
    and dataclasses.is_dataclass(value)
    and value.__module__ == model.__name__
]


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda c: c.__name__)
def test_the_guide_documents_every_class_and_field_of_the_model(cls: type) -> None:
    assert f"`{cls.__name__}`" in GUIDE
    for field in dataclasses.fields(cls):
        assert f"`{field.name}`" in GUIDE or f"`{cls.__name__}.{field.name}`" in GUIDE, (
            f"{cls.__name__}.{field.name} is not in docs/your-own-system.md"
        )


@pytest.mark.parametrize(
    "topic",
    ["--system", "PYTHONPATH", "--no-reload", "--max-retry-attempts", "pizzabus synth --system",
     "pizzabus deploy --system", "Grant(", "AccessDeniedException", "GlobalIndex", "IndexName"],
)  # fmt: skip
def test_the_guide_covers_what_a_reader_needs(topic: str) -> None:
    assert topic in GUIDE


def test_the_guides_example_exists_in_examples() -> None:
    assert (REPO / "examples" / "signups" / "signups" / "system.py").is_file()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_installs_the_runtime_without_the_test_aws_or_benchmark_extras(
    tmp_path: Path,
) -> None:
    # -n prints what `make run` would do in a fresh clone (an empty venv folder), runs nothing.
    dry = subprocess.run(
        ["make", "-n", "-f", str(REPO / "Makefile"), "run", "VENV=" + str(tmp_path / "venv")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    installs = [line for line in dry.splitlines() if "pip install" in line]
    assert installs, dry
    assert all(re.search(r"-e \.$", line) for line in installs), installs
    assert "[" not in " ".join(installs)  # no extras: .[test], .[aws], .[bench]


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_ctrl_c_on_make_run_stops_the_server_without_an_error_from_make() -> None:
    stamp = REPO / ".venv" / ".installed-run"
    if not stamp.exists() or stamp.stat().st_mtime < (REPO / "pyproject.toml").stat().st_mtime:
        pytest.skip("make run would install first: run `make install` once")
    # Ctrl+C in a terminal signals the whole foreground process group: make and the server.
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run", "ARGS=--memory --port 0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=as_from_a_terminal,  # noqa: PLW1509 (a test's single fork)
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Press Ctrl+C"):
            break
    os.killpg(process.pid, signal.SIGINT)
    rest, _ = process.communicate(timeout=30)
    output = "".join(lines) + rest
    assert "pizzabus stopped." in output
    assert "make: ***" not in output
    assert "Aborted" not in output
