"""Sentry scope: each message's Sentry data carries its correlation context.

Sentry's Dramatiq integration gives each message an isolation scope and a transaction and captures
unexpected errors (not the actor's ``throws``, so not ``PermanentError``). Installed right after the
integration's middleware, this one tags that scope with ``correlationId`` and ``taskType``, sets the
user (``id`` = ``userId``), names the transaction after the task type and runs the message inside a
``queue.process`` span.
"""

from __future__ import annotations

from typing import Any

import dramatiq
import sentry_sdk

from core import context
from core.errors import PermanentError
from middleware.message_end import MessageEnd

#: The span op of processing one message.
OP = "queue.process"


class SentryScope(MessageEnd):
    """Tags, user and a ``queue.process`` span for every message (see the module docstring)."""

    def __init__(self) -> None:
        self.spans: dict[str, Any] = {}

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        """Tag the scope and open the span."""
        bound = context.current()
        task_type = str(bound.get("taskType") or message.actor_name)
        scope = sentry_sdk.get_isolation_scope()
        scope.set_tag("correlationId", bound.get("correlationId", message.message_id))
        scope.set_tag("taskType", task_type)
        scope.set_context("correlation", dict(bound))
        if bound.get("userId"):
            scope.set_user({"id": bound["userId"]})
        sentry_sdk.get_current_scope().set_transaction_name(task_type, source="task")
        span = sentry_sdk.start_span(op=OP, name=task_type)
        span.set_data("messaging.message.id", message.message_id)
        span.set_data("messaging.message.retry.count", message.options.get("retries", 0))
        span.__enter__()
        self.spans[message.message_id] = span

    def message_ended(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any,
        exception: BaseException | None,
        skipped: bool,
    ) -> None:
        """Close the span; an unexpected error marks it failed (bad input does not)."""
        span = self.spans.pop(message.message_id, None)
        if span is None:
            return
        if exception is not None and not isinstance(exception, PermanentError):
            span.set_status("internal_error")
        span.__exit__(None, None, None)
