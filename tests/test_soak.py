"""The chaos soak, short (``bench/soak.py``; ``make soak`` runs the full 1,000 tasks).

About 100 tasks (valid graph-generation, add-node and summary tasks, two large ones, ~5 % each of
poison bodies, invalid payloads and injected S3/Chroma faults) through two ``dramatiq actors``
workers on a moto server (SQS + S3) and a Chroma server, one SIGKILL and one SIGTERM of a worker.
Every check of the soak must pass; the table is printed (``pytest -s`` shows it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from soak import soak
from soak_checks import evaluate, print_report


@pytest.mark.timeout(1200)
def test_short_chaos_soak() -> None:
    outcome = soak(["--tasks", "100", "--kills", "1", "--terms", "1", "--large", "2", "--timeout", "900"])
    checks = evaluate(outcome)
    print_report(outcome, checks)
    failed = [f"{c.name}: {c.figure}; {c.details[:5]}" for c in checks if not c.ok]
    assert not failed, failed
