"""Acknowledgements leave at once: a finished task's message is deleted within a second of its answer.

Dramatiq acknowledges a message from the worker thread that processed it, while the consumer thread
may be waiting in a 20 s long poll. Deleting in the consumer thread ("before the next receive") would
leave the message on the queue for that long, and a worker dying meanwhile would have its finished
task answered twice. A background thread per broker therefore deletes every acknowledged message as
soon as it is handed over, together with whatever other acknowledgements are ready by then (up to
10 per ``DeleteMessageBatch`` call), never behind a receive.
"""

from __future__ import annotations

import threading
from typing import Any

from dramatiq.logging import get_logger

#: Entries per DeleteMessageBatch call (the API's maximum).
BATCH = 10
#: Seconds the thread waits for work before checking whether it was stopped.
IDLE_WAIT_SECONDS = 1.0


class Acknowledger(threading.Thread):
    """Deletes acknowledged messages of one queue as soon as they are acknowledged.

    Parameters:
      client: a boto3 SQS client (thread-safe, unlike the resource objects).
      queue_url: the queue the messages came from.
    """

    def __init__(self, client: Any, queue_url: str) -> None:
        super().__init__(name="sqs-acknowledger", daemon=True)
        self.logger = get_logger(__name__, type(self))
        self.client = client
        self.queue_url = queue_url
        self.pending: list[str] = []
        self.lock = threading.Lock()
        #: One delete round at a time: ``flush`` returns only when everything handed over is gone.
        self.deleting = threading.Lock()
        self.ready = threading.Event()
        self.stopped = threading.Event()

    def add(self, receipt_handle: str) -> None:
        """Delete this message as soon as possible."""
        with self.lock:
            self.pending.append(receipt_handle)
            self.ready.set()

    def run(self) -> None:
        """Delete what is handed over until stopped."""
        while not self.stopped.is_set():
            if self.ready.wait(IDLE_WAIT_SECONDS):
                self.flush()

    def flush(self) -> int:
        """Delete every message handed over so far, now; the count deleted."""
        with self.deleting:
            with self.lock:
                handles, self.pending = self.pending, []
                self.ready.clear()
            deleted = 0
            for start in range(0, len(handles), BATCH):
                deleted += self.delete(handles[start : start + BATCH])
            return deleted

    def delete(self, handles: list[str]) -> int:
        """One DeleteMessageBatch call; a failure is logged (the message then comes back after its
        visibility timeout and is answered again, identically)."""
        try:
            response = self.client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(handles)],
            )
        except Exception:  # never kill the thread: the next acknowledgements must still leave
            self.logger.warning("Delete of %d acknowledged message(s) failed.", len(handles), exc_info=True)
            return 0
        for failure in response.get("Failed", []):
            self.logger.warning("Delete failed for a message: %s", failure.get("Code"))
        return len(response.get("Successful", []))

    def stop(self) -> None:
        """Delete what is pending and stop the thread."""
        self.flush()
        self.stopped.set()
