"""Shared helpers for the pattern-engine tests: the AWS vectors and an event envelope."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pizzabus.patterns import compile_pattern

#: ``../shared/conformance/eventbridge-patterns`` seen from the repository root.
VECTORS_DIR = Path(__file__).resolve().parents[2].parent / "shared/conformance/eventbridge-patterns"


def load_vectors(name: str) -> list[dict[str, Any]]:
    """The vectors of one file, or an empty list when the shared folder is absent."""
    path = VECTORS_DIR / name
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return list(data["vectors"] if isinstance(data, dict) else data)


def needs_vectors() -> pytest.MarkDecorator:
    """Skip, saying why, when the conformance folder is not beside the repository."""
    return pytest.mark.skipif(
        not VECTORS_DIR.is_dir(), reason=f"AWS conformance vectors not found at {VECTORS_DIR}"
    )


def envelope(**detail: Any) -> dict[str, Any]:
    """An EventBridge event whose ``detail`` holds ``detail``."""
    return {
        "version": "0",
        "id": "1",
        "detail-type": "Order Placed",
        "source": "pizza.orders",
        "account": "123456789012",
        "time": "2025-10-15T13:11:58Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def matches(pattern: Any, event: Any) -> bool:
    """Compile ``pattern`` and match ``event`` (either may be JSON text or Python data)."""
    return compile_pattern(pattern if isinstance(pattern, str) else json.dumps(pattern)).matches(
        event
    )
