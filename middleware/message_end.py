"""One hook for the end of a message, whether it was processed or skipped.

Dramatiq ends a message with ``after_process_message`` (it ran, with a result or an exception) or
``after_skip_message`` (a middleware skipped it before it ran). A middleware that holds something
for the message being processed (context, a span, progress state, a busy count) must let it go in
both cases: it subclasses ``MessageEnd`` and implements ``message_ended`` once.
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.middleware import Middleware


class MessageEnd(Middleware):
    """Calls ``message_ended`` after every message, processed or skipped."""

    def message_ended(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any,
        exception: BaseException | None,
        skipped: bool,
    ) -> None:
        """The message is done: ``skipped`` when it never ran (then without result or exception)."""
        raise NotImplementedError

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        """End a processed message."""
        self.message_ended(broker, message, result=result, exception=exception, skipped=False)

    def after_skip_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        """End a skipped message."""
        self.message_ended(broker, message, result=None, exception=None, skipped=True)
