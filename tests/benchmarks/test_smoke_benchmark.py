"""The smoke benchmark CI prints runs at all (its timings are never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RESULT = REPO / "benchmarks" / "results" / "smoke" / "lifecycle.json"

pytestmark = pytest.mark.e2e


# A failure guard, never reached when the machine is merely slow: under a 2-core CPU hog (and
# other suites) the run takes minutes, which the former 90 s guard read as a failure.
@pytest.mark.timeout(900)
def test_the_smoke_lifecycle_benchmark_orders_pizzas_on_every_system() -> None:
    RESULT.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--only", "lifecycle", "--duration", "0.5"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(RESULT.read_text())
    for system in ("transport", "memory", "durable"):
        assert results["saturation"]["median"][system]["orders_per_s"] > 0, system
        assert results["saturation"]["median"][system]["failed"] == 0, system
