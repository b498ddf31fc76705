"""The chaos soak, short (``bench/soak.py``; ``make soak`` runs the full 1,000 tasks), and its checks.

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
from soak_checks import evaluate, print_report, waiting_check
from soak_outcome import Life, Outcome
from soak_plan import Task


@pytest.mark.timeout(1200)
def test_short_chaos_soak() -> None:
    outcome = soak(["--tasks", "100", "--kills", "1", "--terms", "1", "--large", "2", "--timeout", "900"])
    checks = evaluate(outcome)
    print_report(outcome, checks)
    failed = [f"{c.name}: {c.figure}; {c.details[:5]}" for c in checks if not c.ok]
    assert not failed, failed


def outcome_of(lives: list[Life], received_at: float) -> Outcome:
    """An outcome with one task (``t``) in flight on the first life when it was killed at 100 s."""
    return Outcome(
        tasks=[],
        answers=[],
        progress=0,
        lives=lives,
        dead_letters=[],
        request_depth=0,
        faults={},
        unfired=[],
        visibility=30,
        shutdown_seconds=20,
        threads=1,
        wall_seconds=0.0,
        finished=True,
        errors=[],
        answered_at={},
        deleted_at={},
        received_at={"t": [received_at]},
    )


def test_a_task_back_late_fails_only_if_a_worker_had_a_free_thread_meanwhile() -> None:
    task = Task("graph", "GRAPH_GENERATION_REQUEST", "t", "u", "{}", None)
    dead = Life("A1", "SIGKILL", 100.0, 100.5, [(90.0, "t", "ingest.done")], ready=[0.0])
    # The other worker runs one task from 50 s to 160 s on its only thread; the task is received at 161 s.
    busy = Life("B1", "", 0.0, 0.0, [(50.0, "x", "ingest.done"), (160.0, "x", "task.answered")], ready=[0.0])
    check = waiting_check(outcome_of([dead, busy], 161.0), {"t": task})
    assert check.ok and "1 waited" in check.figure
    # Free from 140 s on: received 21 s after that is late.
    free = Life("B1", "", 0.0, 0.0, [(50.0, "x", "ingest.done"), (140.0, "x", "task.answered")], ready=[0.0])
    check = waiting_check(outcome_of([dead, free], 161.0), {"t": task})
    assert not check.ok and "after a thread was free" in check.details[0]
    # Within the visibility timeout and its slack: fine whatever the others did.
    assert waiting_check(outcome_of([dead, free], 134.0), {"t": task}).ok
