"""Liveness: a heartbeat file that shows a live consumer, not just a live process.

While every consumer thread of the worker is alive and has polled its queue recently, a background
thread touches ``path`` every ``interval`` seconds; ``ai-worker health`` (the container health check)
passes while the file is fresh. The file is removed when the worker shuts down.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import dramatiq
from dramatiq.middleware import Middleware

#: Seconds between touches of the heartbeat file.
DEFAULT_INTERVAL = 10.0
#: A consumer that has not polled for this long is stuck (a long poll lasts at most 20 s).
STALE_AFTER = 90.0
#: ``ai-worker health`` fails when the file is older than this.
MAX_AGE = 60.0


def is_fresh(path: Path, max_age: float = MAX_AGE) -> bool:
    """True if ``path`` was touched within the last ``max_age`` seconds."""
    try:
        return time.time() - path.stat().st_mtime <= max_age
    except OSError:
        return False


class Liveness(Middleware):
    """Touches a heartbeat file while the worker's consumers are alive and polling.

    Parameters:
      path: the heartbeat file.
      interval: seconds between touches.
      stale_after: seconds without a poll after which a consumer counts as stuck.
    """

    def __init__(
        self, path: Path, *, interval: float = DEFAULT_INTERVAL, stale_after: float = STALE_AFTER
    ) -> None:
        self.path = path
        self.interval = interval
        self.stale_after = stale_after
        self.worker: dramatiq.Worker | None = None
        self.stopped = threading.Event()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """Start touching the file."""
        self.worker = worker
        self.stopped.clear()
        threading.Thread(target=self.run, name="liveness", daemon=True).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """Stop touching the file and remove it."""
        self.stopped.set()
        self.path.unlink(missing_ok=True)

    def run(self) -> None:
        """Touch the file every ``interval`` seconds while the consumers are live."""
        while not self.stopped.is_set():
            if self.consumers_live():
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.touch()
            self.stopped.wait(self.interval)

    def consumers_live(self) -> bool:
        """True if every consumer thread is running and (if it says when) polled recently."""
        if self.worker is None:
            return False
        threads = list(self.worker.consumers.values())
        now = time.monotonic()
        for thread in threads:
            if not thread.is_alive():
                return False
            last_poll = getattr(thread.consumer, "last_poll", None)
            if last_poll is not None and now - last_poll > self.stale_after:
                return False
        return bool(threads)
