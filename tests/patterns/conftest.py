"""Shared helpers for the pattern-engine tests: the AWS vectors and an event envelope."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pizzabus.patterns import compile_pattern

#: The AWS-validated vectors, kept in the test tree (provenance and licence in its README).
VECTORS_DIR = Path(__file__).resolve().parent / "conformance"


def load_vectors(name: str) -> list[dict[str, Any]]:
    """The vectors of one file of ``VECTORS_DIR``.

    A missing file is an error at collection, never an empty list: the conformance suite must
    not shrink to nothing and pass.
    """
    data = json.loads((VECTORS_DIR / name).read_text(encoding="utf-8"))
    return list(data["vectors"] if isinstance(data, dict) else data)


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
