"""A test-only actor that works for as long as the test says; loaded only by the lifecycle tests
(``dramatiq actors slow_actors``), never by production."""

from __future__ import annotations

import os
import time
from typing import Any

import dramatiq
import structlog

from actors.broker import QUEUE
from core.errors import PermanentError
from models.results import GraphGenerationResult, Status

logger = structlog.get_logger(__name__)

#: The request ``taskType`` the slow actor serves.
SLOW_TASK_TYPE = "SLOW_TEST_REQUEST"


@dramatiq.actor(
    actor_name="slow_test_task",
    queue_name=QUEUE,
    task_type=SLOW_TASK_TYPE,
    throws=(PermanentError,),
    max_retries=0,
    time_limit=600_000,
)
def slow_test_task(payload: Any, task_id: str) -> GraphGenerationResult:
    """Work for ``SLOW_TEST_SECONDS`` seconds, then answer COMPLETED."""
    seconds = float(os.environ.get("SLOW_TEST_SECONDS", "1"))
    logger.info("slow.started", seconds=seconds, pid=os.getpid())
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.1)
    logger.info("slow.finished")
    return GraphGenerationResult(user_id=payload["userId"], status=Status.COMPLETED)
