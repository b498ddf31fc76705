"""The actor that answers bodies no pipeline can take (see ``middleware.envelope``)."""

from __future__ import annotations

from typing import Any

import dramatiq
import structlog

from actors.broker import QUEUE
from core.errors import PermanentError
from middleware.envelope import REJECT_ACTOR

logger = structlog.get_logger(__name__)


@dramatiq.actor(actor_name=REJECT_ACTOR, queue_name=QUEUE, max_retries=0, throws=(PermanentError,))
def reject_envelope(
    payload: Any, task_id: str, code: str = "UNKNOWN_TASK_TYPE", error: str = "", size: int = 0
) -> None:
    """Fail with the decoder's reason; the result publisher answers it ``FAILED`` once.

    The body itself is never logged: it may hold secrets.
    """
    logger.warning("envelope.rejected", errorCode=code, reason=error, bodyBytes=size)
    raise PermanentError(error or "request rejected", code=code)
