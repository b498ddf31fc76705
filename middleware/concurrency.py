"""The worker's own concurrency: ``WORKER_THREADS`` tasks per process, nothing prefetched beyond them.

Plain ``dramatiq actors`` runs one process per CPU with 8 threads each and prefetches twice as many
messages as it has threads. A graph generation is CPU- and memory-heavy: 16 of them at once on a
2-vCPU, 8 GiB task would run out of memory, and messages prefetched behind a long task wait while
another worker sits idle. The worker therefore sets its thread count from the environment and
prefetches no more messages than it has threads, whatever the command line says.
"""

from __future__ import annotations

import dramatiq
from dramatiq.middleware import Middleware


class Concurrency(Middleware):
    """Sets the worker's thread count and its queues' prefetch before the worker starts its threads.

    Parameters:
      threads: worker threads per process (each processes one message at a time).
    """

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """Runs before ``Worker.start`` creates the threads and the consumers."""
        worker.worker_threads = self.threads
        worker.queue_prefetch = self.threads
