"""The worker's shutdown budget: from SIGTERM (or SIGINT) to exit within ``WORKER_SHUTDOWN_SECONDS``.

Dramatiq stops a worker by letting its threads finish their messages for up to
``--worker-shutdown-timeout`` (600 s unless the command line says otherwise), far beyond ECS's 120 s
stop window, and a graph generation cannot be interrupted mid-computation. The worker therefore keeps
its own deadline, whatever the flag says. When the worker starts shutting down (the Dramatiq CLI turns
SIGTERM and SIGINT into ``Worker.stop``), the broker stops receiving and releases its prefetched
messages, and a timer starts. When everything finished in time, the timer is cancelled and the logs
and Sentry are flushed. When the deadline comes first, the broker deletes what was acknowledged and
releases every unfinished message (visibility 0: another worker takes it at once), the logs and
Sentry are flushed and the process exits. (ECS task protection went off when the shutdown began:
``task_protection.py``.)
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable

import dramatiq
import sentry_sdk
import structlog
from dramatiq.middleware import Middleware

logger = structlog.get_logger(__name__)

#: Seconds the release at the deadline may take (SQS calls retry for longer on a bad network).
RELEASE_SECONDS = 5.0
#: Seconds Sentry may take to send what it holds, at the deadline and after a clean shutdown.
SENTRY_FLUSH_SECONDS = 2.0


def flush_outputs() -> None:
    """Push out buffered log lines and Sentry events (a forked worker process runs no atexit hooks)."""
    if sentry_sdk.get_client().is_active():
        sentry_sdk.flush(timeout=SENTRY_FLUSH_SECONDS)
    for handler in logging.getLogger().handlers:
        handler.flush()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()


class ShutdownBudget(Middleware):
    """Exits the worker process ``seconds`` after its shutdown began, releasing unfinished work first.

    Parameters:
      seconds: the budget, from the start of the shutdown to the exit.
      release: makes every unfinished message available to other workers at once; returns how many
        (``EnvelopeSQSBroker.release_unfinished``; None for brokers that cannot).
      exit: ends the process at the deadline (``os._exit``: worker threads still computing cannot be
        joined); replaceable in tests.
    """

    def __init__(
        self,
        seconds: float,
        *,
        release: Callable[[], int] | None = None,
        exit: Callable[[int], object] = os._exit,
    ) -> None:
        self.seconds = seconds
        self.release = release
        self.exit = exit
        self.timer: threading.Timer | None = None

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """Start the deadline."""
        if self.timer is None:
            logger.info("worker.shutdown_started", budget_seconds=self.seconds)
            self.timer = threading.Timer(self.seconds, self.expire)
            self.timer.name = "shutdown-deadline"
            self.timer.daemon = True
            self.timer.start()

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """Everything finished in time: cancel the deadline, flush logs and Sentry."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        logger.info("worker.shutdown_complete")
        flush_outputs()

    def expire(self) -> None:
        """The deadline: release the unfinished work (for at most ``RELEASE_SECONDS``), flush, exit."""
        logger.warning("worker.shutdown_deadline", budget_seconds=self.seconds)
        outcome: list[int] = []
        if self.release is not None:
            releasing = threading.Thread(target=self.release_into, args=(outcome,), daemon=True)
            releasing.start()
            releasing.join(RELEASE_SECONDS)
        logger.warning("worker.shutdown_exit", released=outcome[0] if outcome else 0)
        try:
            flush_outputs()
        finally:
            self.exit(0)

    def release_into(self, outcome: list[int]) -> None:
        """Run ``release`` and append its count to ``outcome``; a failure is logged."""
        assert self.release is not None
        try:
            outcome.append(self.release())
        except Exception:
            logger.exception("worker.shutdown_release_failed")
