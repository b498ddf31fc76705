"""ECS task scale-in protection while messages are processed.

ECS may stop a task of a scaling-in service at any time; a protected task is left alone. The worker
asks for protection (``PUT $ECS_AGENT_URI/task-protection/v1/state``) when it starts processing while
idle, and gives it up when it becomes idle again and as soon as it starts shutting down (never to ask
again: the task is stopping, and a message still running is released by the shutdown budget). A
failing endpoint is logged, never fatal: the worker works on without protection.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any

import dramatiq
import structlog

from middleware.message_end import MessageEnd

logger = structlog.get_logger(__name__)

#: Path of the ECS agent's task protection endpoint.
PROTECTION_PATH = "/task-protection/v1/state"


class TaskProtection(MessageEnd):
    """Keeps ECS task protection on while at least one message is being processed.

    Parameters:
      agent_uri: ``$ECS_AGENT_URI`` (set by ECS in every container).
      expires_minutes: how long one protection lasts; renewed when a message starts past half of it.
      timeout: seconds one call to the agent may take.
    """

    def __init__(self, agent_uri: str, *, expires_minutes: int = 120, timeout: float = 2.0) -> None:
        self.url = agent_uri.rstrip("/") + PROTECTION_PATH
        self.expires_minutes = expires_minutes
        self.timeout = timeout
        self.busy = 0
        self.protected_since: float | None = None
        self.stopping = False
        self.lock = threading.Lock()

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        """Protect the task if it was idle (or its protection is half spent)."""
        with self.lock:
            self.busy += 1
            since = self.protected_since
            if self.stopping:
                return
            if since is None or time.monotonic() - since > self.expires_minutes * 30:
                self.protect(True)

    def message_ended(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any,
        exception: BaseException | None,
        skipped: bool,
    ) -> None:
        """Give protection up once no message is being processed."""
        with self.lock:
            self.busy = max(0, self.busy - 1)
            if self.busy == 0 and self.protected_since is not None:
                self.protect(False)

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """Give protection up: the task is stopping anyway, let ECS replace it at once."""
        with self.lock:
            self.stopping = True
            self.protect(False)

    def protect(self, enabled: bool) -> bool:
        """Set the protection; True if the agent accepted it."""
        body: dict[str, Any] = {"ProtectionEnabled": enabled}
        if enabled:
            body["ExpiresInMinutes"] = self.expires_minutes
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except Exception as error:
            logger.warning("ecs.protection_failed", enabled=enabled, error_type=type(error).__name__)
            self.protected_since = None
            return False
        self.protected_since = time.monotonic() if enabled else None
        logger.info("ecs.protection", enabled=enabled)
        return True
