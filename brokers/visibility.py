"""The visibility heartbeat: messages a consumer holds stay invisible while it holds them.

SQS hides a received message for the queue's visibility timeout, then delivers it again. The timeout
is short, so that a dead worker's task comes back in seconds (DESIGN.md decision 4); a background
thread per consumer therefore extends every message the consumer holds (prefetched or being
processed) every third of the timeout, until the message is acknowledged, rejected or released.

An extension is bounded: a message is extended for at most ``limit(message)`` seconds from the moment
its processing started (or it was received, while it waits), so a stuck task cannot hold its message
forever.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dramatiq.logging import get_logger

#: Entries per ChangeMessageVisibilityBatch call (the API's maximum).
BATCH = 10


@dataclass(slots=True, eq=False)
class Held:
    """One received SQS message and when it was received and (if so) started."""

    receipt_handle: str
    message_id: str
    limit: float
    received: float = field(default_factory=time.monotonic)
    started: float | None = None

    def expired(self, now: float) -> bool:
        """True once the message has been held for longer than its bound."""
        return now - (self.started if self.started is not None else self.received) > self.limit


class VisibilityHeartbeat(threading.Thread):
    """Extends the visibility of every held message every ``visibility_timeout / 3`` seconds.

    Parameters:
      client: a boto3 SQS client (thread-safe, unlike the resource objects).
      queue_url: the queue the messages came from.
      visibility_timeout: seconds each extension hides a message for.
      clock: monotonic seconds; replaceable in tests.
    """

    def __init__(
        self,
        client: Any,
        queue_url: str,
        visibility_timeout: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name="sqs-visibility-heartbeat", daemon=True)
        self.logger = get_logger(__name__, type(self))
        self.client = client
        self.queue_url = queue_url
        self.visibility_timeout = visibility_timeout
        self.interval = max(1.0, visibility_timeout / 3)
        self.clock = clock
        self.held: dict[str, Held] = {}
        self.lock = threading.Lock()
        #: A release never races an extension: one visibility round at a time.
        self.changing = threading.Lock()
        self.stopped = threading.Event()

    def hold(self, held: Held) -> None:
        """Start extending ``held``."""
        with self.lock:
            self.held[held.receipt_handle] = held

    def drop(self, receipt_handle: str) -> Held | None:
        """Stop extending a message (acknowledged, rejected or released)."""
        with self.lock:
            return self.held.pop(receipt_handle, None)

    def started(self, receipt_handle: str) -> None:
        """Mark a message as being processed: its bound counts from now."""
        with self.lock:
            held = self.held.get(receipt_handle)
            if held is not None:
                held.started = self.clock()

    def holding(self) -> list[Held]:
        """The messages currently held."""
        with self.lock:
            return list(self.held.values())

    def run(self) -> None:
        """Extend until stopped."""
        while not self.stopped.wait(self.interval):
            try:
                self.beat()
            except Exception:  # a failed beat is retried on the next one; never kill the thread
                self.logger.warning("Visibility extension failed.", exc_info=True)

    def beat(self) -> None:
        """Extend every held message that is within its bound; forget the others."""
        with self.changing:
            now = self.clock()
            extend: list[Held] = []
            for held in self.holding():
                if held.expired(now):
                    self.logger.warning(
                        "Message %r held longer than %d s: no longer extended.", held.message_id, held.limit
                    )
                    self.drop(held.receipt_handle)
                else:
                    extend.append(held)
            self.change(extend, self.visibility_timeout)

    def release(self, messages: Iterable[Held]) -> int:
        """Make ``messages`` visible at once (visibility 0) and stop extending them; the count released."""
        batch = list(messages)
        with self.changing:
            for held in batch:
                self.drop(held.receipt_handle)
            return self.change(batch, 0)

    def change(self, messages: list[Held], timeout: int) -> int:
        """Set the visibility of ``messages`` to ``timeout`` seconds; the count changed."""
        changed = 0
        for start in range(0, len(messages), BATCH):
            batch = messages[start : start + BATCH]
            response = self.client.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": held.receipt_handle, "VisibilityTimeout": timeout}
                    for i, held in enumerate(batch)
                ],
            )
            changed += len(response.get("Successful", []))
            for failure in response.get("Failed", []):
                self.logger.warning("Visibility change failed for a message: %s", failure.get("Code"))
        return changed

    def stop(self) -> None:
        """Stop the thread (the held messages are left as they are)."""
        self.stopped.set()
