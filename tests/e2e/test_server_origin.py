"""The servers the end-to-end tests start run this checkout's code, not an installed copy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.server import REPO, SRC, server_env

_PROBE = (
    "import json, sys, pizzabus, tests.e2e; "
    "print(json.dumps([pizzabus.__file__, tests.e2e.__file__, sys.path]))"
)


def _probe() -> tuple[Path, Path, list[str]]:
    """What ``python -m pizzabus`` would import, started exactly as the tests start servers."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=server_env(),
    )
    package, tests, path = json.loads(done.stdout)
    return Path(package), Path(tests), path


def test_a_server_subprocess_imports_pizzabus_from_this_checkouts_src() -> None:
    package, tests, _ = _probe()
    assert package == SRC / "pizzabus" / "__init__.py"
    assert tests == REPO / "tests" / "e2e" / "__init__.py"  # --system tests.e2e.…:ATTR works


def test_this_checkouts_src_comes_before_any_installed_pizzabus() -> None:
    _, _, path = _probe()
    site = [i for i, entry in enumerate(path) if entry.endswith("site-packages")]
    assert str(SRC) in path
    assert path.index(str(SRC)) < min(site)
