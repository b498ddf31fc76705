"""Stage timing: each pipeline stage a task reports is audited and timed.

Pipelines report ``report(stage, 0.0)`` when a stage starts and ``report(stage, 1.0)`` when it ends
(``results.report_progress``); ``stage_reported`` turns these into ``audit.start``/``audit.success``
events and stage duration observations. A stage still open when the message fails ends in
``audit.error``.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import dramatiq

from core.audit import Audit
from middleware.envelope import envelope_of
from middleware.message_end import MessageEnd
from middleware.metrics import record_stage


@dataclass(slots=True)
class _Stage:
    number: int
    audit: Audit
    started: float


@dataclass(slots=True)
class _Stages:
    task_type: str | None
    open: _Stage | None = None


_stages: ContextVar[_Stages | None] = ContextVar("ai_worker_stages", default=None)


def stage_name(stage: int) -> str:
    """The audit name of a stage."""
    return f"stage{stage}"


def stage_reported(stage: int, fraction: float) -> None:
    """Open ``stage`` on its first report, close it on ``1.0`` (a no-op outside a message)."""
    state = _stages.get()
    if state is None:
        return
    if state.open is not None and state.open.number != stage:
        _close(state, None)
    if state.open is None and fraction < 1.0:
        state.open = _Stage(stage, Audit("stage", stage_name(stage)).start(), time.monotonic())
    if fraction >= 1.0 and state.open is not None:
        _close(state, None)


def _close(state: _Stages, error: BaseException | None) -> None:
    stage, state.open = state.open, None
    if stage is None:
        return
    if error is None:
        stage.audit.success()
    else:
        stage.audit.error(error)
    outcome = "success" if error is None else "error"
    record_stage(state.task_type, stage_name(stage.number), time.monotonic() - stage.started, outcome)


class StageTiming(MessageEnd):
    """Tracks the stages of the message being processed (see ``stage_reported``)."""

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        """Start tracking stages for ``message``."""
        _stages.set(_Stages(envelope_of(message).get("taskType")))

    def message_ended(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any,
        exception: BaseException | None,
        skipped: bool,
    ) -> None:
        """Close a stage left open by a failure; stop tracking."""
        state = _stages.get()
        if state is not None and state.open is not None:
            _close(state, exception or RuntimeError("stage did not report its end"))
        _stages.set(None)
