"""The correlation context of the message being processed.

It lives in structlog's contextvars, so every log line of the message carries it, ours and the
libraries' alike; Sentry and the result publisher read it from here too.
"""

from __future__ import annotations

from typing import Any

import structlog

#: Keys bound for each message.
CONTEXT_KEYS = ("correlationId", "taskType", "userId", "actor", "messageId", "attempt")


def bind(**values: Any) -> None:
    """Bind correlation values for the current message."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v is not None})


def clear() -> None:
    """Forget everything bound for the previous message."""
    structlog.contextvars.clear_contextvars()


def current() -> dict[str, Any]:
    """The values bound for the current message."""
    return structlog.contextvars.get_contextvars()
