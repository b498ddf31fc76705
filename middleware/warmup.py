"""Models load when the worker process boots, not inside its first task.

Loading the Korean analyser (kiwipiepy) and the embedding model holds the GIL for seconds: inside a
task it would delay everything else in the process, the SIGTERM handler first (and with it the
shutdown budget, which counts from the moment the worker sees the signal). Done before the worker
starts its threads, the load delays only the moment the worker becomes ready.
"""

from __future__ import annotations

import dramatiq
import structlog
from dramatiq.middleware import Middleware

from core.services import Services

logger = structlog.get_logger(__name__)

#: Korean and English, so that both the analyser and the model load.
WARM_UP_TEXT = "준비 운동 warm-up"


class Warmup(Middleware):
    """Embeds one short text before the worker starts its threads.

    Parameters:
      services: the process's services (their embedder loads on first use).
    """

    def __init__(self, services: Services) -> None:
        self.services = services

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """Load the analyser and the model now."""
        self.services.embedder.embed([WARM_UP_TEXT])
        logger.info("worker.warmed_up", embedder=self.services.settings.embedder)
