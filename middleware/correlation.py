"""Correlation: bind the message's identity to the context for its whole processing."""

from __future__ import annotations

from typing import Any

import dramatiq

from core import context
from middleware.envelope import envelope_of
from middleware.message_end import MessageEnd


class Correlation(MessageEnd):
    """Binds ``correlationId`` (= ``taskId``), ``taskType``, ``userId``, ``actor``, ``messageId`` and
    ``attempt`` before a message is processed, and clears them after, so nothing carries over to the
    next message on the same thread. Install it first so that it wraps every other middleware.
    """

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        """Bind the context of ``message``."""
        envelope = envelope_of(message)
        payload = message.args[0] if message.args and isinstance(message.args[0], dict) else {}
        user_id = payload.get("userId")
        context.clear()
        context.bind(
            correlationId=envelope.get("taskId") or message.message_id,
            taskType=envelope.get("taskType") or message.actor_name,
            userId=user_id if isinstance(user_id, str) else None,
            actor=message.actor_name,
            messageId=message.message_id,
            attempt=int(message.options.get("retries", 0)) + 1,
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
        """Clear the context."""
        context.clear()
