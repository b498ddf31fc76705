"""Metrics: answers by task type, status and errorCode; pipeline stage durations (Prometheus).

Dramatiq's own ``Prometheus`` middleware counts messages, errors, retries and durations per actor and
runs the exposition server (``dramatiq_prom_host``/``dramatiq_prom_port``, default ``0.0.0.0:9191``);
the metrics here are written to the same multiprocess database, so that server exposes them too.
"""

from __future__ import annotations

import os
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

#: Buckets of the stage duration histogram, in seconds (a stage takes from milliseconds to an hour).
STAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, float("inf"))

_installed: TaskMetrics | None = None


class TaskMetrics(Middleware):
    """Counts answers (``ai_worker_answers_total``) and times stages
    (``ai_worker_stage_duration_seconds``); the metrics exist once the process has booted."""

    def __init__(self) -> None:
        self.answers: Any = None
        self.stage_durations: Any = None

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        """Create the metrics in the multiprocess database of Dramatiq's Prometheus middleware."""
        from dramatiq.middleware.prometheus import DB_PATH

        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", DB_PATH)
        import prometheus_client as prom

        registry = prom.CollectorRegistry()
        self.answers = prom.Counter(
            "ai_worker_answers_total",
            "Answers published, by request taskType, status and errorCode.",
            ["task_type", "status", "error_code"],
            registry=registry,
        )
        self.stage_durations = prom.Histogram(
            "ai_worker_stage_duration_seconds",
            "Duration of pipeline stages, by request taskType and stage.",
            ["task_type", "stage", "outcome"],
            buckets=STAGE_BUCKETS,
            registry=registry,
        )
        self.registry = registry
        global _installed
        _installed = self

    def answered(self, task_type: str | None, status: str, error_code: str | None) -> None:
        """Count one answer."""
        if self.answers is not None:
            self.answers.labels(task_type or "unknown", status, error_code or "").inc()

    def stage_done(self, task_type: str | None, stage: str, seconds: float, outcome: str) -> None:
        """Observe one stage's duration."""
        if self.stage_durations is not None:
            self.stage_durations.labels(task_type or "unknown", stage, outcome).observe(seconds)


def record_answer(task_type: str | None, status: str, error_code: str | None) -> None:
    """Count an answer (a no-op until ``TaskMetrics`` has booted)."""
    if _installed is not None:
        _installed.answered(task_type, status, error_code)


def record_stage(task_type: str | None, stage: str, seconds: float, outcome: str = "success") -> None:
    """Observe a stage's duration (a no-op until ``TaskMetrics`` has booted)."""
    if _installed is not None:
        _installed.stage_done(task_type, stage, seconds, outcome)
