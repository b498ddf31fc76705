"""Every benchmark script compiles: most of them run only by hand (``BENCHMARKS.md``), not in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.parametrize("script", sorted(BENCH.glob("*.py")), ids=lambda path: path.name)
def test_bench_script_compiles(script: Path) -> None:
    compile(script.read_text(encoding="utf-8"), str(script), "exec")
