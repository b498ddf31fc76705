"""Result publishing: every task is answered once, from the actor's return value or its failure.

- The actor returns a result payload: it is published as ``COMPLETED`` (or as the actor set it).
- The actor raised and the message failed for good (a ``PermanentError``, or retries spent): a
  ``FAILED`` answer of the matching result type, with the ``errorCode``, is published.
- The actor raised and Dramatiq will retry: nothing is published yet.

Install it before ``Retries`` so that its ``after_process_message`` runs after Retries has decided.
While a message runs, ``report_progress`` publishes progress messages for it.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import dramatiq
import structlog

from adapters.sinks import ResultSink
from core.errors import PermanentError, error_code
from middleware.envelope import REJECT_ACTOR, envelope_of
from middleware.message_end import MessageEnd
from middleware.metrics import record_answer
from middleware.stages import stage_reported
from models.base import utc_now_iso
from models.envelope import Envelope, TaskType, result_type_for
from models.results import RESULT_MODELS, GraphGenerationProgress, ResultPayload, Status, stage_label

logger = structlog.get_logger(__name__)

#: Message option naming how a failed message failed, for the broker's nack (dead-letter or delete).
FAILURE_OPTION = "failure"


class Failure(StrEnum):
    """How a message failed for good."""

    REJECTED = "rejected"  # the body could not be read or routed
    INVALID_REQUEST = "invalid_request"  # a request that was read but cannot be served (already answered)
    RETRIES_SPENT = "retries_spent"  # transient failures outlasted the retries


def classify_failure(message: dramatiq.MessageProxy, error: BaseException) -> Failure:
    """How ``message`` failed with ``error``."""
    if message.actor_name == REJECT_ACTOR:
        return Failure.REJECTED
    return Failure.INVALID_REQUEST if isinstance(error, PermanentError) else Failure.RETRIES_SPENT


#: Intermediate progress messages of one stage are at least this many seconds apart.
PROGRESS_INTERVAL = 2.0
#: Longest error text sent to the backend.
ERROR_TEXT_LIMIT = 500


@dataclass(slots=True)
class _Progress:
    sink: ResultSink
    task_id: str
    user_id: str
    stage: int = 0
    stage_started: float = field(default_factory=time.monotonic)
    last_sent: float = 0.0
    last_percent: int = -1


_progress: ContextVar[_Progress | None] = ContextVar("ai_worker_progress", default=None)


def report_progress(stage: int, fraction: float) -> None:
    """Publish ``GRAPH_GENERATION_PROGRESS`` for the current message (throttled; a no-op outside one).

    Stage starts and ends are also audited and timed (``stages.stage_reported``).
    """
    stage_reported(stage, fraction)
    state = _progress.get()
    if state is None:
        return
    now = time.monotonic()
    if stage != state.stage:
        state.stage, state.stage_started, state.last_percent = stage, now, -1
    percent = max(0, min(100, int(fraction * 100)))
    boundary = percent in (0, 100)
    if percent == state.last_percent or (not boundary and now - state.last_sent < PROGRESS_INTERVAL):
        return
    elapsed = now - state.stage_started
    eta = round(elapsed * (1 - fraction) / fraction) if 0 < fraction < 1 else (0 if percent == 100 else None)
    payload = GraphGenerationProgress(
        user_id=state.user_id,
        current_stage=stage_label(stage, percent),
        progress_percent=percent,
        eta_seconds=eta,
    )
    envelope = Envelope(
        taskType=TaskType.GRAPH_GENERATION_PROGRESS, taskId=state.task_id, payload=payload.to_wire()
    )
    state.last_sent, state.last_percent = now, percent
    try:
        state.sink.publish(envelope.to_wire())
    except Exception:  # progress is best effort; the answer is what counts
        logger.warning("progress.publish_failed", stage=stage, exc_info=True)


def failure_payload(request_type: str | None, payload: Any, error: BaseException) -> ResultPayload:
    """The ``FAILED`` result payload answering a request of ``request_type`` that failed with ``error``."""
    model = RESULT_MODELS[result_type_for(request_type)]
    fields = payload if isinstance(payload, dict) else {}
    user_id = fields.get("userId")
    values: dict[str, Any] = {
        "userId": user_id if isinstance(user_id, str) and user_id else "unknown",
        "status": Status.FAILED,
        "error": str(error)[:ERROR_TEXT_LIMIT] or type(error).__name__,
        "errorCode": error_code(error),
    }
    if "chat_id" in model.model_fields and isinstance(fields.get("chatId"), str):
        values["chatId"] = fields["chatId"]
    return model.model_validate(values)


class ResultPublisher(MessageEnd):
    """Publishes each task's answer to the result sink exactly when its outcome is final."""

    def __init__(self, sink: ResultSink) -> None:
        self.sink = sink

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        """Make ``report_progress`` publish for this message."""
        envelope = envelope_of(message)
        payload = message.args[0] if message.args and isinstance(message.args[0], dict) else {}
        _progress.set(
            _Progress(
                sink=self.sink,
                task_id=str(envelope.get("taskId") or message.message_id),
                user_id=str(payload.get("userId") or "unknown"),
            )
        )

    def message_ended(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any,
        exception: BaseException | None,
        skipped: bool,
    ) -> None:
        """Stop progress reporting; answer the task if its outcome is final (a skipped one is not)."""
        _progress.set(None)
        envelope = envelope_of(message)
        if skipped or not envelope:
            return  # an internal Dramatiq message, not a backend task
        request_type = envelope.get("taskType")
        if exception is None:
            if not isinstance(result, ResultPayload):
                logger.error("result.missing", returned=type(result).__name__)
                return
            answer = result
        elif message.failed:
            message.options[FAILURE_OPTION] = classify_failure(message, exception).value
            answer = failure_payload(request_type, message.args[0] if message.args else None, exception)
        else:
            logger.info("task.retry_scheduled", error_type=type(exception).__name__)
            return
        self.publish(request_type, str(envelope.get("taskId") or message.message_id), answer)

    def publish(self, request_type: str | None, task_id: str, answer: ResultPayload) -> None:
        """Send one answer envelope."""
        envelope = Envelope(
            taskType=result_type_for(request_type),
            taskId=task_id,
            timestamp=utc_now_iso(),
            payload=answer.to_wire(),
        )
        self.sink.publish(envelope.to_wire())
        logger.info("task.answered", status=answer.status.value, errorCode=answer.error_code)
        record_answer(request_type, answer.status.value, answer.error_code)
