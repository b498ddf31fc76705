"""Helpers shared by the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[2] / "shared"
EXAMPLES = SHARED / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def example(name: str) -> dict[str, Any]:
    """One of the backend's example envelopes or documents."""
    loaded: dict[str, Any] = json.loads((EXAMPLES / name).read_text("utf-8"))
    return loaded


def answers(envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The result envelopes (not progress)."""
    return [e for e in envelopes if not e["taskType"].endswith("_PROGRESS")]
