"""Without the `aws` extra, the specs still import, and the CDK part says how to install it.

Each case runs in a fresh interpreter where ``aws_cdk`` cannot be imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pizzabus
from pizzabus.aws.errors import INSTALL_COMMAND

BLOCK_CDK = "import sys; sys.modules['aws_cdk'] = None; "


def _run(code: str) -> subprocess.CompletedProcess[str]:
    src = str(Path(pizzabus.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-c", BLOCK_CDK + code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_the_specs_import_without_the_cdk() -> None:
    result = _run(
        "from pizzabus.aws.specs import stack_spec; from pizzabus.pizza.system import SYSTEM; "
        "print(stack_spec(SYSTEM).stack_name)"
    )
    assert (result.returncode, result.stdout.strip()) == (0, "pizzabus-lab")


def test_importing_the_stack_without_the_cdk_names_the_install_command() -> None:
    result = _run(
        "from pizzabus.aws.errors import MissingExtraError\n"
        "try:\n    import pizzabus.aws.stack\n"
        "except ImportError as err:\n"
        "    print(isinstance(err, MissingExtraError), err)\n"
    )
    assert result.stdout.startswith("True ")
    assert INSTALL_COMMAND in result.stdout
    assert INSTALL_COMMAND == 'pip install "pizzabus[aws]"'


def test_synth_without_the_cdk_says_what_to_install_without_a_traceback() -> None:
    result = _run("sys.argv = ['pizzabus', 'synth']; from pizzabus.cli.main import main; main()")
    assert result.returncode == 1
    assert INSTALL_COMMAND in result.stderr
    assert "Traceback" not in result.stderr
